// The systems of the failure-conduct scorecard (`npm run bench:faults`), each configured with the
// fallback it can express, opened through the shared harness. Today's shape gives every scenario
// backends (airoute) and an upstream block (nginx) of its own, so no circuit, budget or
// passive-health state carries over between scenarios; another shape (say, one backend serving
// several models) would be another set of config builders here.
import path from 'node:path';
import { prepareDist, startAiroute, writeConfig, KEY_ENV } from './airoute.ts';
import type { FaultSystem, Scenario } from './faults-judge.ts';
import type { Harness } from './harness.ts';
import { openNginx } from './nginx.ts';
import { openPortkey } from './portkey.ts';
import type { Proc } from './procs.ts';

/** The equivalent settings every system gets where it has them (printed in the output). */
export const CONDUCT = {
  timeoutMs: 1000,
  attempts: 3,
  cooldownMs: 1000,
};

export const PRIMARY_MODEL = 'primary-model';
export const FALLBACK_MODEL = 'fallback-model';

/** airoute's route (and backend name prefix) for a scenario. */
export const routeOf = (s: Scenario): string => `f-${s.id}`;

export interface SystemState {
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

export interface FaultsSetup {
  wanted: Set<string>;
  scenarios: Scenario[];
  /** The client gives up on a request after this long. */
  limitMs: number;
  /** The primary and the fallback mock upstream. */
  mocks: { a: { origin: string; port: number }; b: { origin: string; port: number } };
  noBuild: boolean;
  commit: string;
}

/** Per scenario a route [primary → fallback], each backend its own, with the conduct above. */
export function airouteConfig(o: FaultsSetup): unknown {
  const backends: unknown[] = [];
  const routes: unknown[] = [];
  for (const s of o.scenarios) {
    const r = routeOf(s);
    const circuit = { consecutiveFailures: CONDUCT.attempts, cooldownMs: CONDUCT.cooldownMs };
    backends.push({ name: `${r}-a`, type: 'openai-compatible', baseURL: `${o.mocks.a.origin}/v1`, apiKey: { env: KEY_ENV }, circuit });
    backends.push({ name: `${r}-b`, type: 'openai-compatible', baseURL: `${o.mocks.b.origin}/v1`, apiKey: { env: KEY_ENV }, circuit });
    routes.push({
      model: r,
      backends: [
        { backend: `${r}-a`, model: PRIMARY_MODEL },
        { backend: `${r}-b`, model: FALLBACK_MODEL },
      ],
      retry: { attempts: CONDUCT.attempts, backoff: { baseMs: 100, maxMs: 1000 }, honorRetryAfter: true },
      timeouts: { connectMs: CONDUCT.timeoutMs, firstTokenMs: CONDUCT.timeoutMs, idleMs: CONDUCT.timeoutMs, totalMs: o.limitMs - 2000 },
      resume: 'prefill',
    });
  }
  return { backends, routes };
}

/** Per scenario an upstream block (primary, backup) and a location `/f/<id>/`. */
function nginxHttp(o: FaultsSetup, port: number): string {
  const ups = o.scenarios
    .map(
      (_, i) => `  upstream f_${i} {
    server 127.0.0.1:${o.mocks.a.port} max_fails=1 fail_timeout=${CONDUCT.cooldownMs / 1000}s;
    server 127.0.0.1:${o.mocks.b.port} backup;
    keepalive 16;
  }`,
    )
    .join('\n');
  const locs = o.scenarios
    .map(
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
      proxy_next_upstream_timeout ${(o.limitMs - 2000) / 1000}s;
    }`,
    )
    .join('\n');
  return `${ups}
  server {
    listen 127.0.0.1:${port};
    location = /_airoute_ready { return 200 "ok\\n"; }
${locs}
  }`;
}

/** Portkey's config, sent per request in `x-portkey-config`: fallback over two targets, retries on the primary. */
export function portkeyConfig(a: string, b: string): Record<string, unknown> {
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

/** Starts every wanted system against the two mocks; one that cannot start is kept with the reason. */
export async function openFaultSystems(h: Harness, o: FaultsSetup): Promise<SystemState[]> {
  const out: SystemState[] = [];
  const t = CONDUCT.timeoutMs;

  if (o.wanted.has('direct')) out.push({ id: 'direct', available: true, fallback: 'none', config: 'the client sends to the primary itself', origin: o.mocks.a.origin });

  if (o.wanted.has('nginx')) {
    const st: SystemState = {
      id: 'nginx',
      available: false,
      fallback: 'the backup server, a replica of the same model (nginx forwards the model name as sent)',
      config: `per scenario an upstream { primary max_fails=1 fail_timeout=${CONDUCT.cooldownMs / 1000}s; fallback backup }, proxy_next_upstream error timeout http_429 http_500 http_502 http_503 http_504 non_idempotent, proxy_next_upstream_tries 2, proxy_connect/read/send_timeout ${t / 1000}s, proxy_buffering off. nginx cannot retry the same server, honour Retry-After, rename the model, or recover a stream once bytes reached the client.`,
    };
    const n = await openNginx(h, (port) => nginxHttp(o, port), undefined);
    if (n.ok) Object.assign(st, { available: true, version: n.version, origin: n.proc.origin, proc: n.proc });
    else st.why = n.why;
    out.push(st);
  }

  if (o.wanted.has('portkey')) {
    const st: SystemState = {
      id: 'portkey',
      available: false,
      fallback: 'strategy fallback over two targets (primary, then fallback with its own model name via override_params)',
      config: `x-portkey-config per request: {strategy: {mode: "fallback"}, targets: [primary with retry {attempts: ${CONDUCT.attempts - 1}, use_retry_after_header: true} (= ${CONDUCT.attempts} requests), fallback], request_timeout ${t} ms on each target}, as Portkey's docs write it (fallback on any non-2xx, the default; retries on 429/500/502/503/504, the default). Portkey has no circuit breaker and no first-token or idle timeout (request_timeout ends at the response headers).`,
    };
    const k = await openPortkey(h, undefined);
    if (k.ok) Object.assign(st, { available: true, version: k.version, origin: k.proc.origin, proc: k.proc });
    else st.why = k.why;
    out.push(st);
  }

  if (o.wanted.has('airoute')) {
    const st: SystemState = {
      id: 'airoute',
      available: false,
      fallback: "the route's second backend, with its own model name",
      config: `per scenario a route [primary → fallback] with retry {attempts: ${CONDUCT.attempts}, backoff 100..1000 ms, honorRetryAfter}, timeouts {connect, firstToken, idle: ${t} ms, total ${(o.limitMs - 2000) / 1000} s}, resume prefill, circuit {consecutiveFailures: ${CONDUCT.attempts}, cooldownMs: ${CONDUCT.cooldownMs}} on each backend, fallbackOn at its default (all conditions); backends of their own per scenario so no circuit or budget state carries over. Run as \`node bin/airoute.js sidecar\` (compiled), NODE_ENV=production.`,
    };
    const dist = prepareDist(o.noBuild, o.commit, h.log);
    if ('why' in dist) st.why = dist.why;
    else
      try {
        const file = path.join(h.tmp, 'airoute.json');
        writeConfig(file, airouteConfig(o));
        const p = await startAiroute(h.nodeBin, file, { name: 'airoute', entry: 'dist' });
        Object.assign(st, { available: true, version: dist.version, origin: p.origin, adminOrigin: `http://127.0.0.1:${p.adminPort}`, proc: p });
      } catch (err) {
        st.why = `could not start: ${(err as Error).message.slice(0, 600)}`;
      }
    out.push(st);
  }
  return out;
}
