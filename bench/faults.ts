// `npm run bench:faults`: the failure-conduct scorecard. Two scripted mock upstreams (a primary
// and a fallback, bench/lib/fault-upstream.ts) misbehave in a fixed set of scenarios; each system
// is configured with the fallback it can express and runs every scenario; a verdict per cell is
// derived from what was observed (the client's transcript, the requests each upstream logged and
// when), by the rules in bench/lib/faults-judge.ts, which the output prints.
//   direct   the client talks to the primary: no fallback
//   nginx    proxy_next_upstream to a backup server (a replica of the same model: nginx cannot
//            rename the model), passive health (max_fails=1 fail_timeout=1s)
//   portkey  Portkey's fallback strategy over two targets, retries on the primary
//   airoute  a route with the primary and the fallback backend
//
//   node bench/faults.ts [--quick] [--only id,id] [--systems a,b] ... (--help)
//
// Results: bench/results/faults.md, faults.json. See bench/README.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { canonicalText } from './lib/common.ts';
import type { FaultScript, RequestLog } from './lib/fault-upstream.ts';
import {
  ANSWER,
  FAULT_SYSTEMS,
  RULES,
  judge,
  scenarios,
  type CellObservation,
  type CellVerdict,
  type FaultSystem,
  type Scenario,
} from './lib/faults-judge.ts';
import { guardedRun, pinning, type StopSignal } from './lib/harness.ts';
import { buildSidecar, finishMeta, machineLine, projectNode, runMeta, staleBuild, type RunMeta } from './lib/meta.ts';
import { ensureNginx, killNginxGroup, startNginx } from './lib/nginx.ts';
import { ensurePortkey, startPortkey, PORTKEY_OVERRIDES } from './lib/portkey.ts';
import { killAll, startMock, startSidecar, type Proc } from './lib/procs.ts';
import { transcript, type Transcript } from './lib/transcript.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const BENCH = path.join(ROOT, 'bench');

const USAGE = `usage: node bench/faults.ts [options]     (npm run bench:faults -- [options])
  --quick           shorter limits and a shorter outage scenario (about 2 minutes instead of about 4)
  --only LIST       comma-separated scenario ids (default: all; see the table in faults.md)
  --systems LIST    comma-separated subset of direct,nginx,portkey,airoute (default: all)
  --no-build        run bin/airoute.js as it is (default: npm run build first)
  --out DIR         where faults.md and faults.json go (default bench/results)
  --max-minutes N   stop everything after N minutes whatever happens (default 15)
  -h, --help`;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    systems: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(BENCH, 'results') },
    'max-minutes': { type: 'string', default: '15' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const QUICK = flags.quick === true;
const MAX_MINUTES = Number(flags['max-minutes']);
if (!(MAX_MINUTES > 0)) throw new Error(`--max-minutes: not a positive number: ${flags['max-minutes']}`);
const ALL_SCENARIOS = scenarios(QUICK);
const ONLY = flags.only ? new Set(flags.only.split(',').map((s) => s.trim())) : undefined;
for (const id of ONLY ?? []) if (!ALL_SCENARIOS.some((s) => s.id === id)) throw new Error(`--only: unknown scenario "${id}" (one of ${ALL_SCENARIOS.map((s) => s.id).join(', ')})`);
const SCENARIOS = ALL_SCENARIOS.filter((s) => !ONLY || ONLY.has(s.id));
const WANTED = new Set<string>(flags.systems ? flags.systems.split(',').map((s) => s.trim()) : FAULT_SYSTEMS);
for (const s of WANTED) if (!(FAULT_SYSTEMS as readonly string[]).includes(s)) throw new Error(`--systems: unknown system "${s}"`);

/** The client gives up on a request after this long: a longer wait is a hang. */
const LIMIT_MS = QUICK ? 8000 : 10_000;
/** After the client is done, how long stragglers (retries a proxy still makes) are given to show up in the upstream logs. */
const SETTLE_MS = 600;
const EXPECTED = canonicalText(ANSWER.chunks);
const KEY_ENV = 'AIROUTE_BENCH_KEY';
const PRIMARY_MODEL = 'primary-model';
const FALLBACK_MODEL = 'fallback-model';

/** The equivalent settings every system gets where it has them (printed in the output). */
const CONDUCT = {
  timeoutMs: 1000,
  attempts: 3,
  cooldownMs: 1000,
};

interface SystemState {
  id: FaultSystem;
  available: boolean;
  why?: string;
  version?: string;
  /** Its fallback, in words. */
  fallback: string;
  config: string;
  origin?: string;
  proc?: Proc;
  adminOrigin?: string;
}

interface Cell {
  scenario: string;
  system: FaultSystem;
  verdict: CellVerdict['verdict'] | 'not run';
  reasons: string[];
  story: string;
  /** Per client request: transcript, and for airoute the request's lifecycle events. */
  requests: { tr: Transcript; events?: string[] }[];
  primary: RequestLog[];
  fallback: RequestLog[];
  /** airoute: its counters for the scenario's route after the cell. */
  metrics?: Record<string, number>;
}

interface FaultsReport {
  meta: RunMeta;
  quick: boolean;
  limitMs: number;
  answer: typeof ANSWER;
  conduct: typeof CONDUCT;
  systems: Omit<SystemState, 'proc'>[];
  scenarios: { id: string; title: string; setup: string; passMeans: string }[];
  rules: typeof RULES;
  cells: Cell[];
  notes: string[];
  elapsedS: number;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'airoute-faults-'));
const nodeBin = projectNode(ROOT);
const log = (s: string) => process.stderr.write(`  ${s}\n`);
let nginxPid = 0;

const routeOf = (s: Scenario) => `f-${s.id}`;

function airouteConfig(a: string, b: string): unknown {
  const backends: unknown[] = [];
  const routes: unknown[] = [];
  for (const s of SCENARIOS) {
    const r = routeOf(s);
    const circuit = { consecutiveFailures: CONDUCT.attempts, cooldownMs: CONDUCT.cooldownMs };
    backends.push({ name: `${r}-a`, type: 'openai-compatible', baseURL: `${a}/v1`, apiKey: { env: KEY_ENV }, circuit });
    backends.push({ name: `${r}-b`, type: 'openai-compatible', baseURL: `${b}/v1`, apiKey: { env: KEY_ENV }, circuit });
    routes.push({
      model: r,
      backends: [
        { backend: `${r}-a`, model: PRIMARY_MODEL },
        { backend: `${r}-b`, model: FALLBACK_MODEL },
      ],
      retry: { attempts: CONDUCT.attempts, backoff: { baseMs: 100, maxMs: 1000 }, honorRetryAfter: true },
      timeouts: { connectMs: CONDUCT.timeoutMs, firstTokenMs: CONDUCT.timeoutMs, idleMs: CONDUCT.timeoutMs, totalMs: LIMIT_MS - 2000 },
      resume: 'prefill',
    });
  }
  return { backends, routes };
}

function nginxHttp(aPort: number, bPort: number): (port: number) => string {
  return (port) => {
    const ups = SCENARIOS.map(
      (s, i) => `  upstream f_${i} {
    server 127.0.0.1:${aPort} max_fails=1 fail_timeout=${CONDUCT.cooldownMs / 1000}s;
    server 127.0.0.1:${bPort} backup;
    keepalive 16;
  }`,
    ).join('\n');
    const locs = SCENARIOS.map(
      (s, i) => `    location /f/${s.id}/ {
      proxy_pass http://f_${i}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_connect_timeout ${CONDUCT.timeoutMs / 1000}s;
      proxy_send_timeout ${CONDUCT.timeoutMs / 1000}s;
      proxy_read_timeout ${CONDUCT.timeoutMs / 1000}s;
      proxy_next_upstream error timeout http_429 http_500 http_502 http_503 http_504 non_idempotent;
      proxy_next_upstream_tries 2;
      proxy_next_upstream_timeout ${(LIMIT_MS - 2000) / 1000}s;
    }`,
    ).join('\n');
    return `${ups}
  server {
    listen 127.0.0.1:${port};
    location = /_airoute_ready { return 200 "ok\\n"; }
${locs}
  }`;
  };
}

function portkeyConfig(a: string, b: string): Record<string, unknown> {
  return {
    strategy: { mode: 'fallback' },
    targets: [
      {
        provider: 'openai',
        api_key: 'sk-bench-not-a-real-key',
        custom_host: `${a}/v1`,
        override_params: { model: PRIMARY_MODEL },
        retry: { attempts: CONDUCT.attempts - 1, use_retry_after_header: true },
        request_timeout: CONDUCT.timeoutMs,
      },
      { provider: 'openai', api_key: 'sk-bench-not-a-real-key', custom_host: `${b}/v1`, override_params: { model: FALLBACK_MODEL }, request_timeout: CONDUCT.timeoutMs },
    ],
  };
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

function requestFor(sys: SystemState, s: Scenario): { path: string; headers: Record<string, string>; body: unknown } {
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

const mocks = { a: '', b: '' };

async function runCell(sys: SystemState, s: Scenario): Promise<Cell> {
  const script = (x: { faults?: FaultScript['faults']; then?: FaultScript['then'] }, down?: number): FaultScript => ({
    ...x,
    chunks: ANSWER.chunks,
    intervalMs: ANSWER.intervalMs,
    ...(down ? { downForMs: down } : {}),
  });
  await putScript(mocks.a, script(s.primary, s.downForMs));
  await putScript(mocks.b, script(s.fallback));
  const t0 = Date.now();
  const req = requestFor(sys, s);
  const plan = s.client ?? { requests: 1, everyMs: 0 };
  const results = await Promise.all(
    Array.from({ length: plan.requests }, async (_, i) => {
      const delay = t0 + i * plan.everyMs - Date.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      return transcript(sys.origin!, req.path, req.headers, req.body, LIMIT_MS);
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
    limitMs: LIMIT_MS,
    expected: EXPECTED,
    fallbackNames: { airouteBackend: `${routeOf(s)}-b`, portkeyIndex: '1' },
  };
  const v = judge(obs);
  const cell: Cell = { scenario: s.id, system: sys.id, verdict: v.verdict, reasons: v.reasons, story: v.story, requests, primary, fallback };
  if (sys.id === 'airoute' && sys.adminOrigin) cell.metrics = await airouteMetrics(sys.adminOrigin, routeOf(s));
  return cell;
}

// ------------------------------------------------------------------ set-up

async function setUp(report: FaultsReport): Promise<SystemState[]> {
  const a = await startMock(path.join(BENCH, 'lib', 'fault-upstream.ts'), undefined);
  const b = await startMock(path.join(BENCH, 'lib', 'fault-upstream.ts'), undefined);
  mocks.a = a.origin;
  mocks.b = b.origin;
  const out: SystemState[] = [];
  const t = CONDUCT.timeoutMs;

  if (WANTED.has('direct')) out.push({ id: 'direct', available: true, fallback: 'none', config: 'the client sends to the primary itself', origin: a.origin });

  if (WANTED.has('nginx')) {
    const st: SystemState = {
      id: 'nginx',
      available: false,
      fallback: 'the backup server, a replica of the same model (nginx forwards the model name as sent)',
      config: `per scenario an upstream { primary max_fails=1 fail_timeout=${CONDUCT.cooldownMs / 1000}s; fallback backup }, proxy_next_upstream error timeout http_429 http_500 http_502 http_503 http_504 non_idempotent, proxy_next_upstream_tries 2, proxy_connect/read/send_timeout ${t / 1000}s, proxy_buffering off. nginx cannot retry the same server, honour Retry-After, rename the model, or recover a stream once bytes reached the client.`,
    };
    const n = ensureNginx(log);
    if (!n.ok) st.why = n.why;
    else
      try {
        const dir = path.join(tmp, 'nginx');
        mkdirSync(dir, { recursive: true });
        const p = await startNginx(n.bin, dir, nginxHttp(a.port, b.port), undefined);
        nginxPid = p.nginxPid;
        Object.assign(st, { available: true, version: `nginx ${n.version}${n.installed ? ' (installed by this run: apt-get install -y nginx)' : ''}`, origin: p.origin, proc: p });
      } catch (err) {
        st.why = `could not start: ${(err as Error).message.slice(0, 600)}`;
      }
    out.push(st);
  }

  if (WANTED.has('portkey')) {
    const st: SystemState = {
      id: 'portkey',
      available: false,
      fallback: 'strategy fallback over two targets (primary, then fallback with its own model name via override_params)',
      config: `x-portkey-config per request: {strategy: {mode: "fallback"}, targets: [primary with retry {attempts: ${CONDUCT.attempts - 1}, use_retry_after_header: true} (= ${CONDUCT.attempts} requests), fallback], request_timeout ${t} ms on each target}, as Portkey's docs write it (fallback on any non-2xx, the default; retries on 429/500/502/503/504, the default). Portkey has no circuit breaker and no first-token or idle timeout (request_timeout ends at the response headers).`,
    };
    const k = ensurePortkey(ROOT, log);
    if (!k.ok) st.why = k.why;
    else
      try {
        const p = await startPortkey(nodeBin, k.entry, undefined);
        Object.assign(st, { available: true, version: `@portkey-ai/gateway ${k.version}${k.installed ? ' (installed by this run)' : ''}, @hono/node-server pinned to ${PORTKEY_OVERRIDES['@hono/node-server']}`, origin: p.origin, proc: p });
      } catch (err) {
        st.why = `could not start: ${(err as Error).message.slice(0, 600)}`;
      }
    out.push(st);
  }

  if (WANTED.has('airoute')) {
    const st: SystemState = {
      id: 'airoute',
      available: false,
      fallback: 'the route\'s second backend, with its own model name',
      config: `per scenario a route [primary → fallback] with retry {attempts: ${CONDUCT.attempts}, backoff 100..1000 ms, honorRetryAfter}, timeouts {connect, firstToken, idle: ${t} ms, total ${(LIMIT_MS - 2000) / 1000} s}, resume prefill, circuit {consecutiveFailures: ${CONDUCT.attempts}, cooldownMs: ${CONDUCT.cooldownMs}} on each backend, fallbackOn at its default (all conditions); backends of their own per scenario so no circuit or budget state carries over. Run as \`node bin/airoute.js sidecar\` (compiled), NODE_ENV=production.`,
    };
    const built = flags['no-build'] ? undefined : buildSidecar(ROOT, log);
    if (built) st.why = built;
    else
      try {
        const file = path.join(tmp, 'airoute.json');
        writeFileSync(file, JSON.stringify(airouteConfig(a.origin, b.origin)));
        const p = await startSidecar('airoute', nodeBin, file, undefined, {
          cwd: ROOT,
          entry: 'bin/airoute.js',
          env: { ...process.env, [KEY_ENV]: 'sk-bench-not-a-real-key', NODE_ENV: 'production' },
        });
        const stale = staleBuild(ROOT);
        Object.assign(st, {
          available: true,
          version: `airoute ${report.meta.commit}${flags['no-build'] ? ' (--no-build)' : ' (npm run build by this run)'}${stale.length ? `; dist/ older than ${stale.length} source file(s)` : ''}`,
          origin: p.origin,
          adminOrigin: `http://127.0.0.1:${p.adminPort}`,
          proc: p,
        });
      } catch (err) {
        st.why = `could not start: ${(err as Error).message.slice(0, 600)}`;
      }
    out.push(st);
  }
  return out;
}

// ------------------------------------------------------------------ report

const MARK: Record<Cell['verdict'], string> = { pass: 'pass', safe: 'safe', fail: '**FAIL**', 'not run': 'not run' };

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function render(r: FaultsReport): string {
  const L: string[] = [];
  const ids = r.systems.map((s) => s.id);
  L.push(`# Failure-conduct scorecard${r.quick ? ' (quick run)' : ''}`, '');
  L.push(`${machineLine(r.meta)} · client limit ${r.limitMs / 1000} s per request · ${r.elapsedS} s`, '');
  L.push(
    `Two scripted mock upstreams on 127.0.0.1 (bench/lib/fault-upstream.ts): a **primary** and a **fallback**, OpenAI-compatible, answering a ${r.answer.chunks}-token canonical text in streamed chunks ${r.answer.intervalMs} ms apart; each logs every request it gets (arrival time, model, prefill, what it answered). The client sends one streamed chat completion per cell (the outage scenario: a paced series) and records everything it sees. Each verdict below is derived from those observations by the rules at the end, not from what a system claims. Each system gets the same conduct where it can express it: ${r.conduct.timeoutMs / 1000} s timeouts, ${r.conduct.attempts} attempts on the primary, a ${r.conduct.cooldownMs / 1000} s cool-down for a failed backend.`,
    '',
  );
  L.push('## Systems', '', '| system | version | fallback | configuration |', '|---|---|---|---|');
  for (const s of r.systems) L.push(`| ${s.id} | ${s.available ? esc(s.version ?? '') : `**not run**: ${esc(s.why ?? '')}`} | ${esc(s.fallback)} | ${esc(s.config)} |`);
  L.push('');
  L.push('## Scorecard', '', `| scenario | ${ids.join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`);
  for (const sc of r.scenarios) {
    const cells = ids.map((id) => {
      const c = r.cells.find((x) => x.scenario === sc.id && x.system === id);
      return c ? MARK[c.verdict] : 'not run';
    });
    L.push(`| ${sc.title} | ${cells.join(' | ')} |`);
  }
  const count = (id: FaultSystem, v: Cell['verdict']) => r.cells.filter((c) => c.system === id && c.verdict === v).length;
  L.push(`| **totals** (pass / safe / fail) | ${ids.map((id) => `${count(id, 'pass')} / ${count(id, 'safe')} / ${count(id, 'fail')}`).join(' | ')} |`, '');

  const airouteMisses = r.cells.filter((c) => c.system === 'airoute' && c.verdict !== 'pass');
  L.push('## Where airoute is not "pass"', '');
  if (!r.systems.some((s) => s.id === 'airoute' && s.available)) L.push('airoute did not run.', '');
  else if (!airouteMisses.length) L.push('Nowhere: airoute passes every scenario.', '');
  else {
    for (const c of airouteMisses) {
      const sc = r.scenarios.find((x) => x.id === c.scenario)!;
      L.push(`### ${sc.title}: ${MARK[c.verdict]}`, '', `- set-up: ${sc.setup}`, `- pass means: ${sc.passMeans}`);
      for (const x of c.reasons) L.push(`- rule ${x}`);
      L.push(`- ${c.story}`);
      if (c.metrics && Object.keys(c.metrics).length) L.push(`- airoute counters for the route: ${Object.entries(c.metrics).map(([k, v]) => `${k.replace(/^airoute_|_total$/g, '')} ${v}`).join(', ')}`);
      const ev = c.requests[0]?.events;
      if (ev?.length) L.push('- airoute events of the request:', '', '  ```', ...ev.map((e) => `  ${e}`), '  ```');
      const tr = c.requests[0]!.tr;
      L.push('- client transcript (first and last events, ms since the request):', '', '  ```', ...tr.events.map((e) => `  ${String(e.t).padStart(8)}  ${e.what.slice(0, 200)}`), '  ```', '');
    }
  }

  L.push('## Every cell', '');
  for (const sc of r.scenarios) {
    L.push(`### ${sc.title} (\`${sc.id}\`)`, '', `Set-up: ${sc.setup}. Pass means: ${sc.passMeans}.`, '', '| system | verdict | why | what happened |', '|---|---|---|---|');
    for (const id of ids) {
      const c = r.cells.find((x) => x.scenario === sc.id && x.system === id);
      if (!c) continue;
      L.push(`| ${id} | ${MARK[c.verdict]} | ${esc(c.reasons.join('; '))} | ${esc(c.story)} |`);
    }
    L.push('');
  }
  L.push('## Rules', '', 'Applied in this order; the first group decides **fail**, then **pass**, then **safe**.', '', '| rule | verdict | meaning |', '|---|---|---|');
  for (const x of r.rules) L.push(`| ${x.id} | ${x.verdict} | ${esc(x.text)} |`);
  L.push('');
  if (r.notes.length) {
    L.push('## Notes', '');
    for (const n of r.notes) L.push(`- ${n}`);
    L.push('');
  }
  return `${L.join('\n')}\n`;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const started = Date.now();
  const report: FaultsReport = {
    meta: runMeta(ROOT),
    quick: QUICK,
    limitMs: LIMIT_MS,
    answer: ANSWER,
    conduct: CONDUCT,
    systems: [],
    scenarios: SCENARIOS.map((s) => ({ id: s.id, title: s.title, setup: s.setup, passMeans: s.passMeans })),
    rules: RULES,
    cells: [],
    notes: [],
    elapsedS: 0,
  };
  console.error(`airoute bench:faults: ${SCENARIOS.length} scenarios; client limit ${LIMIT_MS / 1000} s`);
  const systems = await setUp(report);
  for (const s of systems) console.error(`  ${s.id}: ${s.available ? `ready${s.version ? ` (${s.version})` : ''}` : `NOT RUN: ${s.why}`}`);
  for (const sc of SCENARIOS) {
    if (stop.requested) break;
    process.stderr.write(`  ${sc.id}:`);
    for (const sys of systems) {
      if (!sys.available || stop.requested) continue;
      const c = sys.proc?.child;
      if (c && (c.exitCode !== null || c.signalCode !== null)) {
        sys.available = false;
        sys.why = `exited during the run (code ${c.exitCode}, signal ${c.signalCode}): ${sys.proc!.err.text.slice(-400)}`;
        report.notes.push(`${sys.id} ${sys.why}`);
        continue;
      }
      try {
        const cell = await runCell(sys, sc);
        report.cells.push(cell);
        process.stderr.write(` ${sys.id} ${cell.verdict}`);
      } catch (err) {
        report.notes.push(`${sc.id}, ${sys.id}: the cell could not run: ${(err as Error).message}`);
        process.stderr.write(` ${sys.id} ERROR`);
      }
    }
    process.stderr.write('\n');
  }
  report.systems = systems.map(({ proc: _p, ...rest }) => rest);
  report.notes.push(
    'Verdicts are as observed in this run, on a shared 2-core machine; timing-dependent rules (Retry-After, outage counts) have tolerances (50 ms; the outage window is counted from when the scripts were set).',
  );
  finishMeta(report.meta);
  report.elapsedS = Math.round((Date.now() - started) / 100) / 10;
  if (stop.requested) return;
  const md = render(report);
  mkdirSync(flags.out!, { recursive: true });
  writeFileSync(path.join(flags.out!, 'faults.md'), md);
  writeFileSync(path.join(flags.out!, 'faults.json'), `${JSON.stringify(report, null, 1)}\n`);
  process.stdout.write(md);
  console.error(`written: ${path.relative(process.cwd(), path.join(flags.out!, 'faults.md'))}, faults.json (${report.elapsedS} s)`);
  // The scorecard's own goal: airoute passes every scenario where a fallback exists (all of them).
  if (report.cells.some((c) => c.system === 'airoute' && c.verdict !== 'pass') || systems.some((s) => s.id === 'airoute' && !s.available)) process.exitCode = 1;
}

const stop: StopSignal = { requested: false };
const cleanup = async () => {
  await killAll();
  killNginxGroup(nginxPid);
  rmSync(tmp, { recursive: true, force: true });
};
guardedRun('bench:faults', { maxMinutes: MAX_MINUTES, stop, cleanup, main });
