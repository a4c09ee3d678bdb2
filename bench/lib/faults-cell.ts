// One cell of the failure-conduct scorecard: one system in one scenario, in one shape. The mocks
// get the scenario's scripts (per model in the shared shape), the client sends
// (bench/lib/transcript.ts records everything it sees), then a healthy request on another route
// (the alive check), the upstreams' request logs are collected, and the cell is judged
// (bench/lib/faults-judge.ts).
import { canonicalText } from './common.ts';
import type { FaultScript, RequestLog } from './fault-upstream.ts';
import { ALIVE_LIMIT_MS, ANSWER, judge, type CellObservation, type Scenario, type Shape } from './faults-judge.ts';
import type { Cell } from './faults-report.ts';
import { ALIVE_MODEL, ALIVE_ROUTE, SHARED_BACKEND, modelsOf, portkeyAliveConfig, portkeyConfig, routeOf, type SystemState } from './faults-systems.ts';
import { transcript } from './transcript.ts';

/** After the client is done, how long stragglers (retries a proxy still makes) are given to show up in the upstream logs. */
const SETTLE_MS = 600;
const EXPECTED = canonicalText(ANSWER.chunks);

/** What every cell of a run (of one shape) shares: the client's limit, the shape and its hosts. */
export interface CellRun {
  limitMs: number;
  shape: Shape;
  /** The primary's and the fallback's host (the same one in the shared shape). */
  mocks: { primary: string; fallback: string };
}

/** Sets the host's default script (`model` absent: every log and model script is reset) or one model's. */
async function putScript(origin: string, script: FaultScript, model?: string): Promise<void> {
  const res = await fetch(`${origin}/_fault/script${model ? `?model=${encodeURIComponent(model)}` : ''}`, { method: 'PUT', body: JSON.stringify(script) });
  if (res.status !== 200) throw new Error(`fault script: ${res.status}`);
  await res.arrayBuffer();
}

async function getLog(origin: string): Promise<RequestLog[]> {
  const res = await fetch(`${origin}/_fault/log`);
  return ((await res.json()) as { requests: RequestLog[] }).requests;
}

/** airoute's lifecycle events of one request, compact (`attempt.failed f-x-a headers upstream_error 503`). */
async function airouteEvents(origin: string, id: string): Promise<string[]> {
  try {
    const res = await fetch(`${origin}/airoute/v1/requests/${encodeURIComponent(id)}/events`, { signal: AbortSignal.timeout(1500) });
    const text = await res.text();
    const out: string[] = [];
    for (const block of text.split('\n\n')) {
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('');
      if (!data) continue;
      try {
        const ev = JSON.parse(data) as { type: string; ts?: number; attempt?: number; data?: Record<string, unknown> };
        if (ev.type === 'content.delta') {
          if (out.at(-1)?.startsWith('content.delta')) {
            const m = /×(\d+)$/.exec(out.at(-1)!);
            out[out.length - 1] = `content.delta ×${(m ? Number(m[1]) : 1) + 1}`;
          } else out.push('content.delta ×1');
          continue;
        }
        const d = ev.data ?? {};
        const keys = ['backend', 'model', 'mode', 'phase', 'code', 'status', 'retriable', 'delayMs', 'retryAfterMs', 'reason', 'from', 'to', 'fromChars', 'deliveredChars', 'message'];
        const bits = keys.filter((k) => d[k] !== undefined).map((k) => `${k}=${typeof d[k] === 'string' ? (d[k] as string).slice(0, 140) : JSON.stringify(d[k])}`);
        out.push(`${ev.type}${ev.attempt !== undefined ? ` #${ev.attempt}` : ''} ${bits.join(' ')}`.trim());
      } catch {
        // not an event
      }
    }
    return out;
  } catch (err) {
    return [`(events unavailable: ${(err as Error).message})`];
  }
}

/** airoute's counters for one route (the route is used by one cell only, so no delta is needed). */
async function airouteMetrics(admin: string, route: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const text = await (await fetch(`${admin}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    for (const line of text.split('\n')) {
      const m = /^(airoute_(?:attempts|attempt_failures|retries|fallbacks|resumes|stream_errors|request_errors|retry_budget_exhausted)_total)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m || !m[2]!.includes(`route="${route}"`)) continue;
      out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[3]);
    }
  } catch {
    // the cell's verdict does not depend on it
  }
  return out;
}

const chatBody = (model: string) => ({
  model,
  messages: [
    { role: 'system', content: 'You are a concise assistant.' },
    { role: 'user', content: 'Explain in one paragraph what a sidecar proxy does for LLM traffic.' },
  ],
  max_tokens: 256,
  stream: true,
  stream_options: { include_usage: true },
});
const AUTH = { authorization: 'Bearer sk-bench-client-key' };

/** What the client sends to `sys` for scenario `s`: the same streamed chat completion, addressed as each system needs. */
function requestFor(sys: SystemState, s: Scenario, run: CellRun): { path: string; headers: Record<string, string>; body: unknown } {
  const m = modelsOf(run.shape, s);
  switch (sys.id) {
    case 'direct':
      return { path: '/v1/chat/completions', headers: AUTH, body: chatBody(m.primary) };
    case 'nginx':
      return { path: `/f/${s.id}/v1/chat/completions`, headers: AUTH, body: chatBody(m.primary) };
    case 'portkey':
      return { path: '/v1/chat/completions', headers: { ...AUTH, 'x-portkey-config': JSON.stringify(portkeyConfig(run.mocks.primary, run.mocks.fallback, m)) }, body: chatBody(m.primary) };
    case 'airoute':
      return { path: '/v1/chat/completions', headers: AUTH, body: chatBody(routeOf(s)) };
  }
}

/** The healthy request after the scenario: another route (model), on the primary's host. */
function aliveRequestFor(sys: SystemState, run: CellRun): { path: string; headers: Record<string, string>; body: unknown } {
  switch (sys.id) {
    case 'direct':
      return { path: '/v1/chat/completions', headers: AUTH, body: chatBody(ALIVE_MODEL) };
    case 'nginx':
      return { path: '/alive/v1/chat/completions', headers: AUTH, body: chatBody(ALIVE_MODEL) };
    case 'portkey':
      return { path: '/v1/chat/completions', headers: { ...AUTH, 'x-portkey-config': JSON.stringify(portkeyAliveConfig(run.mocks.primary)) }, body: chatBody(ALIVE_MODEL) };
    case 'airoute':
      return { path: '/v1/chat/completions', headers: AUTH, body: chatBody(ALIVE_ROUTE) };
  }
}

export async function runCell(sys: SystemState, s: Scenario, run: CellRun): Promise<Cell> {
  const { mocks, limitMs, shape } = run;
  const models = modelsOf(shape, s);
  const script = (x: { faults?: FaultScript['faults']; then?: FaultScript['then'] }, down?: number): FaultScript => ({
    ...x,
    chunks: ANSWER.chunks,
    intervalMs: ANSWER.intervalMs,
    ...(down ? { downForMs: down } : {}),
  });
  if (shape === 'isolated') {
    // Fresh hosts: every log and script reset; the alive model answers normally whatever the scenario does.
    await putScript(mocks.primary, script(s.primary, s.downForMs));
    await putScript(mocks.fallback, script(s.fallback));
  } else {
    // One host: only this scenario's models get scripts (and fresh logs); every other model keeps what it had.
    await putScript(mocks.primary, script(s.primary, s.downForMs), models.primary);
    await putScript(mocks.primary, script(s.fallback), models.fallback);
  }
  await putScript(mocks.primary, script({}), ALIVE_MODEL);
  const t0 = Date.now();
  const req = requestFor(sys, s, run);
  const plan = s.client ?? { requests: 1, everyMs: 0 };
  const results = await Promise.all(
    Array.from({ length: plan.requests }, async (_, i) => {
      const delay = t0 + i * plan.everyMs - Date.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return transcript(sys.origin!, req.path, req.headers, req.body, limitMs);
    }),
  );
  // No grudges: a healthy request on another route right after the scenario.
  const aliveReq = aliveRequestFor(sys, run);
  const aliveTr = await transcript(sys.origin!, aliveReq.path, aliveReq.headers, aliveReq.body, ALIVE_LIMIT_MS);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const [a, b] = await Promise.all([getLog(mocks.primary), shape === 'isolated' ? getLog(mocks.fallback) : Promise.resolve([])]);
  const notAlive = (x: RequestLog) => x.model !== ALIVE_MODEL;
  const primary = shape === 'isolated' ? a.filter(notAlive) : a.filter((x) => x.model === models.primary);
  const fallback = shape === 'isolated' ? b.filter(notAlive) : a.filter((x) => x.model === models.fallback);
  const alive = { tr: aliveTr, upstream: a.filter((x) => x.model === ALIVE_MODEL).length };
  const requests: Cell['requests'] = [];
  for (const tr of results) {
    const id = tr.headers['x-airoute-request-id'];
    requests.push(sys.id === 'airoute' && id && plan.requests === 1 ? { tr, events: await airouteEvents(sys.origin!, id) } : { tr });
  }
  const obs: CellObservation = {
    scenario: s,
    system: sys.id,
    shape,
    requests,
    primary,
    fallback,
    alive,
    t0,
    limitMs,
    expected: EXPECTED,
    fallbackNames: { airouteBackend: shape === 'isolated' ? `${routeOf(s)}-b` : SHARED_BACKEND, portkeyIndex: '1' },
  };
  const v = judge(obs);
  const cell: Cell = { scenario: s.id, system: sys.id, shape, verdict: v.verdict, reason: v.reason, checks: v.checks, reasons: v.reasons, story: v.story, requests, primary, fallback, alive };
  if (sys.id === 'airoute' && sys.adminOrigin) cell.metrics = await airouteMetrics(sys.adminOrigin, routeOf(s));
  return cell;
}
