// The demo page's HTML and CSS. Its script (page/app.ts) and the client/ module it builds on are
// served as ES modules next to it; what the page needs from the sidecar (the routes' stories,
// where webhooks may go) is embedded as JSON, so it makes no extra round trip to start.

export interface PageInfo {
  /** What each demo route shows, by model name. */
  routes: Record<string, string>;
  /** The in-process receiver's URL when the config allow-lists it and signs webhooks; else null. */
  webhookUrl: string | null;
}

/** `<` in embedded JSON would let a value close the script element. */
const embed = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

const STYLE = `
:root { --ink: #1a202c; --muted: #4a5568; --line: #d5dbe5; --bg: #f7f8fb; --panel: #fff; --ok: #276749; --ok-bg: #c6f6d5;
  --fail: #b42318; --fail-bg: #fde2e1; --run: #975a16; --run-bg: #fefcbf; --wait: #718096; --content: #2f855a; --recovered: #2b6cb0;
  --verify: #6b46c1; --mark: #fff0b3; --focus: #2b6cb0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--recovered); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.wrap { max-width: 1480px; margin: 0 auto; padding: 1.1rem 1.25rem 2rem; }
header.top h1 { font-size: 1.35rem; margin: 0 0 .15rem; } header.top p { margin: 0 0 .9rem; color: var(--muted); }
form { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: .8rem 1rem; margin-bottom: 1rem; }
fieldset { border: 0; margin: 0; padding: 0; } legend { font-weight: 650; margin-bottom: .35rem; }
.routes { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .4rem .8rem; }
.route { display: flex; gap: .5rem; align-items: flex-start; padding: .4rem .55rem; border: 1px solid var(--line); border-radius: 8px; cursor: pointer; }
.route:has(input:checked) { border-color: var(--recovered); background: #ebf4ff; }
.route input { margin-top: .25rem; } .route b { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9rem; }
.route small { display: block; color: var(--muted); font-size: .8rem; line-height: 1.3; }
.go { display: flex; gap: .6rem; align-items: center; margin-top: .7rem; flex-wrap: wrap; }
.go label { font-weight: 650; } #prompt { flex: 1; min-width: 16rem; font: inherit; padding: .4rem .6rem; border: 1px solid #a0aec0; border-radius: 6px; }
button { font: inherit; font-weight: 600; padding: .42rem .9rem; border-radius: 6px; border: 1px solid #2c5282; background: #2c5282; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #2c5282; } button:disabled { opacity: .55; cursor: not-allowed; }
.patterns { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1rem; }
@media (max-width: 1100px) { .patterns { grid-template-columns: 1fr; } }
.pattern { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: .8rem .9rem 1rem; min-width: 0; }
.pattern > header { display: flex; justify-content: space-between; align-items: baseline; gap: .5rem; }
.pattern h2 { font-size: 1.08rem; margin: 0; } .pattern h3 { font-size: .85rem; margin: .8rem 0 .3rem; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.how { margin: .2rem 0 .5rem; color: var(--muted); font-size: .85rem; } code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85em; }
.badge { font-size: .8rem; font-weight: 700; padding: .1rem .55rem; border-radius: 1rem; background: #edf2f7; color: var(--muted); white-space: nowrap; }
.badge.running { background: var(--run-bg); color: var(--run); } .badge.completed { background: var(--ok-bg); color: var(--ok); }
.badge.failed, .badge.cancelled { background: var(--fail-bg); color: var(--fail); }
.counters { display: grid; grid-template-columns: repeat(5, auto); justify-content: start; gap: 0 1.1rem; margin: .3rem 0 0; }
.counters dt { font-size: .72rem; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; grid-row: 1; }
.counters dd { margin: 0; font-size: 1.15rem; font-weight: 700; grid-row: 2; } .counters dd.hot { color: var(--recovered); }
.tl { margin-top: .2rem; } .tl ol { list-style: none; margin: 0; padding: 0; }
.tl-axis { display: flex; justify-content: space-between; margin-left: 6.6rem; font-size: .7rem; color: var(--muted); border-bottom: 1px solid var(--line); }
.tl-row { display: grid; grid-template-columns: 6.2rem 1fr; column-gap: .4rem; align-items: center; padding: .22rem 0; border-bottom: 1px dashed #edf2f7; }
.tl-label { font-size: .78rem; font-weight: 650; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tl-track { position: relative; height: 16px; background: #f1f4f8; border-radius: 3px; }
.tl-note { grid-column: 2; font-size: .76rem; color: var(--muted); line-height: 1.3; margin-top: .12rem; }
.seg { position: absolute; top: 3px; height: 10px; border-radius: 2px; min-width: 3px; }
.seg.pending { background: repeating-linear-gradient(90deg, #a0aec0 0 3px, transparent 3px 6px); top: 6px; height: 4px; }
.seg.content { background: var(--content); } .seg.recovered { background: var(--recovered); }
.seg.verifying { background: repeating-linear-gradient(45deg, var(--verify) 0 4px, #e9d8fd 4px 8px); }
.seg.wait { background: repeating-linear-gradient(45deg, var(--wait) 0 4px, #e2e8f0 4px 8px); }
.seg.failed-try { background: var(--fail); }
.pin { position: absolute; top: -2px; transform: translateX(-50%); font-size: 13px; line-height: 20px; font-weight: 800; }
.pin.fail { color: var(--fail); } .pin.checkpoint { color: #b7791f; top: -12px; } .pin.ok { color: var(--ok); } .pin.hop { color: var(--recovered); }
.tl-row.end .tl-label { color: var(--muted); } .tl-row.failed .tl-label { color: var(--fail); }
.legend { display: flex; flex-wrap: wrap; gap: .25rem .9rem; font-size: .74rem; color: var(--muted); margin-top: .35rem; }
.legend { margin: -.3rem 0 .7rem; } .legend i { display: inline-block; width: 14px; height: 8px; border-radius: 2px; margin-right: .3rem; vertical-align: middle; }
.k-content { background: var(--content); } .k-recovered { background: var(--recovered); }
.k-wait { background: repeating-linear-gradient(45deg, var(--wait) 0 4px, #e2e8f0 4px 8px); }
.k-verify { background: repeating-linear-gradient(45deg, var(--verify) 0 4px, #e9d8fd 4px 8px); }
.k-wait-first { background: repeating-linear-gradient(90deg, #a0aec0 0 3px, transparent 3px 6px); height: 4px !important; }
.answer { white-space: pre-wrap; border: 1px solid var(--line); border-radius: 6px; padding: .55rem .7rem; min-height: 4.6rem; margin: 0; background: #fcfdfe; }
mark.recovered { background: var(--mark); color: inherit; border-bottom: 2px solid var(--recovered); padding: 0; }
.stop { color: var(--fail); font-weight: 650; }
.note { font-size: .8rem; color: var(--muted); margin: .3rem 0 0; } .note.good { color: var(--ok); font-weight: 600; } .note.bad { color: var(--fail); font-weight: 600; }
.box { border: 1px solid var(--line); border-radius: 6px; padding: .45rem .6rem; font-size: .8rem; background: #fcfdfe; margin-top: .3rem; }
.box .kv { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .76rem; overflow-wrap: anywhere; color: var(--muted); }
.verified { color: var(--ok); font-weight: 700; } .unverified { color: var(--fail); font-weight: 700; }
.controls { display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; margin-top: .45rem; font-size: .85rem; }
details.wire { margin-top: .7rem; } details.wire summary { cursor: pointer; font-size: .85rem; font-weight: 650; color: var(--muted); }
.wire-tools { font-size: .78rem; color: var(--muted); margin: .2rem 0; }
.wire ol { list-style: none; margin: 0; padding: .3rem .4rem; max-height: 15rem; overflow: auto; background: #1a202c; color: #e2e8f0; border-radius: 6px;
  font: 11.5px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; }
.wire li { white-space: pre; overflow: hidden; text-overflow: ellipsis; } .wire.raw li { white-space: pre-wrap; overflow-wrap: anywhere; }
.wire .raw-text { display: none; } .wire.raw .raw-text { display: inline; } .wire.raw .short { display: none; }
.wire .seq { color: #90cdf4; } .wire .ty { color: #fbd38d; } .wire .txt { color: #c6f6d5; } .wire .bad { color: #feb2b2; } .wire .meta { color: #a0aec0; }
.wire li.conn { color: #faf089; } .wire li.http { color: #b2f5ea; }
.same { margin: .9rem 0 0; font-size: .9rem; }
footer { margin-top: 1rem; font-size: .8rem; color: var(--muted); }
`;

export function renderPage(info: PageInfo, ext: '.ts' | '.js'): string {
  const pattern = (id: string, title: string, how: string, extra = '') => `
<section class="pattern" id="${id}" aria-labelledby="${id}-title" data-status="idle">
  <header><h2 id="${id}-title">${title}</h2><span class="badge" data-role="status" role="status">idle</span></header>
  <p class="how">${how}</p>
  <dl class="counters">
    <dt>attempts</dt><dd data-count="attempts">0</dd><dt>retries</dt><dd data-count="retries">0</dd>
    <dt>fallbacks</dt><dd data-count="fallbacks">0</dd><dt>resumes</dt><dd data-count="resumes">0</dd>
    <dt>${id === 'events' ? 'reconnects' : 'backend'}</dt><dd data-count="${id === 'events' ? 'reconnects' : 'backend'}">${id === 'events' ? '0' : '-'}</dd>
  </dl>
  <h3 id="${id}-tl-title">Timeline</h3>
  <div class="tl" data-role="timeline" role="group" aria-labelledby="${id}-tl-title"><p class="note">Send a request to see its attempts.</p></div>
  ${extra}
  <h3 id="${id}-text-title">Text, as the client received it</h3>
  <p class="answer" data-role="text" aria-labelledby="${id}-text-title"></p>
  <p class="note" data-role="text-note"></p>
  <details class="wire" open>
    <summary>Wire: <span data-role="frame-count">0 frames</span></summary>
    <div class="wire-tools"><label><input type="checkbox" data-role="raw"> show raw frames</label></div>
    <ol data-role="wire" aria-label="${title}: frames on the wire"></ol>
  </details>
</section>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>airoute demo: failures, recovered, in three request patterns</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style>
</head>
<body>
<div class="wrap">
<header class="top">
  <h1>airoute demo</h1>
  <p>One prompt, sent three ways through the sidecar on a route whose failures are scripted. Each timeline shows what failed and how it was handled; the text shows what the client received.</p>
</header>
<form id="run">
  <fieldset><legend>Route</legend><div class="routes" id="routes"></div></fieldset>
  <div class="go">
    <label for="prompt">Prompt</label>
    <input id="prompt" name="prompt" value="Tell me how airoute recovers a broken stream." autocomplete="off">
    <button type="submit" id="send">Send to all three patterns</button>
  </div>
</form>
<p class="legend" aria-label="Timeline legend"><span><i class="k-wait-first"></i>waiting for the first token</span><span><i class="k-content"></i>streamed to the client</span><span><i class="k-recovered"></i>recovered after a break</span><span><i class="k-wait"></i>backoff wait</span><span><i class="k-verify"></i>verifying a regenerated prefix</span><span>✕ attempt failed</span><span>⚑ checkpoint</span><span>↳ fallback</span><span>✓ completed</span></p>
<main class="patterns">
${pattern('sync', 'Sync, streamed', '<code>POST /v1/chat/completions</code> with <code>stream: true</code>: the answer streams back on the same connection, as with any OpenAI SDK.')}
${pattern(
  'async',
  'Async + signed webhook',
  '<code>Prefer: respond-async</code> answers <code>202</code> at once; the result arrives later as a Standard Webhooks webhook at a receiver this page runs inside the sidecar.',
  '<h3>Webhook</h3><div class="box" data-role="webhook"><span class="note">No webhook yet.</span></div>',
)}
${pattern(
  'events',
  'Event-driven',
  'Submit, then follow the request\'s events over SSE. Drop the connection: the client reconnects with <code>Last-Event-ID</code> and misses nothing.',
  `<div class="controls"><button type="button" class="secondary" id="drop" disabled>Drop the event connection</button>
   <label><input type="checkbox" id="autodrop" checked> drop it once mid-answer</label></div>
   <p class="note" data-role="continuity"></p>`,
)}
</main>
<p class="same note" id="same" role="status"></p>
<footer>The repository's docs/patterns.md shows the same patterns on the wire, and its README has a curl for each route.</footer>
</div>
<script type="application/json" id="demo-info">${embed(info)}</script>
<script type="module" src="/airoute/demo/src/sidecar/server/demo/page/app${ext}"></script>
</body>
</html>`;
}
