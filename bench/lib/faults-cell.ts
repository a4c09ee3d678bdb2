// One cell of the failure-conduct scorecard: one system in one scenario. The mocks get the
// scenario's scripts, the client sends (bench/lib/transcript.ts records everything it sees), the
// upstreams' request logs are collected, and the cell is judged (bench/lib/faults-judge.ts).
import { canonicalText } from './common.ts';
import type { FaultScript, RequestLog } from './fault-upstream.ts';
import { ANSWER, judge, type CellObservation, type Scenario } from './faults-judge.ts';
import type { Cell } from './faults-report.ts';
import { portkeyConfig, routeOf, PRIMARY_MODEL, type SystemState } from './faults-systems.ts';
import { transcript } from './transcript.ts';

/** After the client is done, how long stragglers (retries a proxy still makes) are given to show up in the upstream logs. */
const SETTLE_MS = 600;
const EXPECTED = canonicalText(ANSWER.chunks);

/** What every cell of a run shares: the client's limit and the two mocks' origins. */
export interface CellRun {
  limitMs: number;
  mocks: { a: string; b: string };
}

async function putScript(origin: string, script: FaultScript): Promise<void> {
  const res = await fetch(`${origin}/_fault/script`, { method: 'PUT', body: JSON.stringify(script) });
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

/** What the client sends to `sys` for scenario `s`: the same streamed chat completion, addressed as each system needs. */
function requestFor(sys: SystemState, s: Scenario, mocks: CellRun['mocks']): { path: string; headers: Record<string, string>; body: unknown } {
  const body = (model: string) => ({
    model,
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: 'Explain in one paragraph what a sidecar proxy does for LLM traffic.' },
    ],
    max_tokens: 256,
    stream: true,
    stream_options: { include_usage: true },
  });
  const auth = { authorization: 'Bearer sk-bench-client-key' };
  switch (sys.id) {
    case 'direct':
      return { path: '/v1/chat/completions', headers: auth, body: body(PRIMARY_MODEL) };
    case 'nginx':
      return { path: `/f/${s.id}/v1/chat/completions`, headers: auth, body: body(PRIMARY_MODEL) };
    case 'portkey':
      return { path: '/v1/chat/completions', headers: { ...auth, 'x-portkey-config': JSON.stringify(portkeyConfig(mocks.a, mocks.b)) }, body: body(PRIMARY_MODEL) };
    case 'airoute':
      return { path: '/v1/chat/completions', headers: auth, body: body(routeOf(s)) };
  }
}

export async function runCell(sys: SystemState, s: Scenario, run: CellRun): Promise<Cell> {
  const { mocks, limitMs } = run;
  const script = (x: { faults?: FaultScript['faults']; then?: FaultScript['then'] }, down?: number): FaultScript => ({
    ...x,
    chunks: ANSWER.chunks,
    intervalMs: ANSWER.intervalMs,
    ...(down ? { downForMs: down } : {}),
  });
  await putScript(mocks.a, script(s.primary, s.downForMs));
  await putScript(mocks.b, script(s.fallback));
  const t0 = Date.now();
  const req = requestFor(sys, s, mocks);
  const plan = s.client ?? { requests: 1, everyMs: 0 };
  const results = await Promise.all(
    Array.from({ length: plan.requests }, async (_, i) => {
      const delay = t0 + i * plan.everyMs - Date.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return transcript(sys.origin!, req.path, req.headers, req.body, limitMs);
    }),
  );
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const [primary, fallback] = await Promise.all([getLog(mocks.a), getLog(mocks.b)]);
  const requests: Cell['requests'] = [];
  for (const tr of results) {
    const id = tr.headers['x-airoute-request-id'];
    requests.push(sys.id === 'airoute' && id && plan.requests === 1 ? { tr, events: await airouteEvents(sys.origin!, id) } : { tr });
  }
  const obs: CellObservation = {
    scenario: s,
    system: sys.id,
    requests,
    primary,
    fallback,
    t0,
    limitMs,
    expected: EXPECTED,
    fallbackNames: { airouteBackend: `${routeOf(s)}-b`, portkeyIndex: '1' },
  };
  const v = judge(obs);
  const cell: Cell = { scenario: s.id, system: sys.id, verdict: v.verdict, reasons: v.reasons, story: v.story, requests, primary, fallback };
  if (sys.id === 'airoute' && sys.adminOrigin) cell.metrics = await airouteMetrics(sys.adminOrigin, routeOf(s));
  return cell;
}
