// `airoute sidecar --demo-ui`: one page at /airoute/demo that submits a request and shows its
// lifecycle live (attempts, retries, fallbacks, resumes, the text), built on the client/ module.
// Client modules are served from source with their types stripped (Node's own stripper), or
// from the compiled dist/client when the sidecar runs from a build.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stripTypeScriptTypes } from 'node:module';
import type { Sidecar } from '../sidecar.ts';

const CLIENT_DIR = new URL('../../client/', import.meta.url);
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXT = FROM_SOURCE ? '.ts' : '.js';
const MODULE = /^\/airoute\/demo\/([a-z-]+)\.(ts|js)$/;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>airoute - request lifecycle</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2rem auto; padding: 0 1rem; color: #1d2430; }
  h1 { font-size: 1.3rem; } .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
  input, select, button { font: inherit; padding: .35rem .6rem; } #prompt { flex: 1; min-width: 20rem; }
  .badge { padding: .15rem .55rem; border-radius: 1rem; background: #e8ecf3; font-weight: 600; }
  .completed { background: #d3f5dd; } .failed, .cancelled { background: #fbd9d9; } .running { background: #fff2c7; }
  dl { display: grid; grid-template-columns: repeat(7, auto); gap: .2rem 1rem; margin: 1rem 0; } dt { color: #667; font-size: .8rem; } dd { margin: 0; font-weight: 600; }
  #text { white-space: pre-wrap; border: 1px solid #d5dbe5; border-radius: 6px; padding: .8rem; min-height: 6rem; background: #fbfcfe; }
  #log { font: 12px/1.4 ui-monospace, monospace; max-height: 18rem; overflow: auto; border-top: 1px solid #d5dbe5; margin-top: 1rem; padding-top: .5rem; }
  #log div.other { color: #7a2ea0; } #error { color: #b3261e; }
</style>
</head>
<body>
<h1>airoute: a request's lifecycle, live</h1>
<div class="row">
  <select id="model"></select>
  <input id="prompt" value="Tell me how airoute recovers a broken stream.">
  <button id="send">Send</button>
  <span id="status" class="badge">idle</span>
</div>
<dl>
  <dt>request</dt><dt>attempts</dt><dt>retries</dt><dt>fallbacks</dt><dt>resumes</dt><dt>reconnects</dt><dt>backend</dt>
  <dd id="request">-</dd><dd id="attempts">0</dd><dd id="retries">0</dd><dd id="fallbacks">0</dd><dd id="resumes">0</dd><dd id="reconnects">0</dd><dd id="backend">-</dd>
</dl>
<div id="text"></div>
<p id="error"></p>
<div id="log"></div>
<script type="module">
import { follow, submit } from '/airoute/demo/index${EXT}';
const $ = (id) => document.getElementById(id);
const models = await (await fetch('/v1/models')).json();
for (const m of models.data) $('model').append(new Option(m.id, m.id));
let reconnects = 0;
function render(s) {
  $('status').textContent = s.status; $('status').className = 'badge ' + s.status;
  $('request').textContent = s.id.slice(0, 8); $('attempts').textContent = s.attempts; $('retries').textContent = s.retries;
  $('fallbacks').textContent = s.fallbacks; $('resumes').textContent = s.resumes; $('backend').textContent = s.backend ?? '-';
  $('text').textContent = s.text; $('error').textContent = s.error ? s.error.code + ': ' + s.error.message : '';
  window.__airouteState = s;
}
$('send').onclick = async () => {
  $('log').textContent = ''; reconnects = 0; $('reconnects').textContent = '0'; $('text').textContent = '';
  const { id } = await submit({ model: $('model').value, stream: true, messages: [{ role: 'user', content: $('prompt').value }] }, { baseURL: '' });
  window.__airouteRequest = id;
  const final = await follow(id, {
    baseURL: '',
    retryDelayMs: 50,
    onState: render,
    onReconnect: (n) => { reconnects = n; $('reconnects').textContent = n; },
    onEvent: (ev) => {
      if (ev.type === 'content.delta') return;
      const line = document.createElement('div');
      line.className = ev.type.startsWith('attempt') || ev.type.startsWith('request') ? '' : 'other';
      line.textContent = ev.seq + '  ' + ev.type + '  ' + JSON.stringify(ev.data);
      $('log').append(line);
    },
  });
  render(final);
  window.__airouteDone = true;
};
</script>
</body>
</html>`;

export const demoUi = (_sc: Sidecar) => serve;

async function serve(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  if (req.method !== 'GET') return false;
  if (path === '/airoute/demo' || path === '/airoute/demo/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(PAGE);
    return true;
  }
  const m = MODULE.exec(path);
  if (!m) return false;
  let code: string;
  try {
    code = await readFile(new URL(`${m[1]}${EXT}`, CLIENT_DIR), 'utf8');
  } catch {
    return false;
  }
  if (FROM_SOURCE) code = stripTypeScriptTypes(code);
  res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
  res.end(code);
  return true;
}
