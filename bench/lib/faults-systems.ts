// The systems of the failure-conduct scorecard (`npm run bench:faults`), each configured with the
// fallback it can express, opened through the shared harness, in each shape (faults-judge.ts):
// - isolated: every scenario has backends (airoute) and an upstream block (nginx) of its own on
//   two upstream hosts, a primary and a fallback, so no circuit, budget or passive-health state
//   carries over between scenarios;
// - shared: one upstream host serves every scenario as model names of its own
//   (`<scenario>-primary`, `<scenario>-fallback`), one airoute backend for all of them, every
//   route's fallback another model on that backend, all scenarios back to back in one process.
// In both, a route `alive` (model `alive-model`, on the primary's host) takes the healthy request
// sent after every scenario.
import path from 'node:path';
import { prepareDist, startAiroute, writeConfig, KEY_ENV } from './airoute.ts';
import type { FaultSystem, Scenario, Shape } from './faults-judge.ts';
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
/** The model of the healthy request sent after every scenario (unscripted: it always answers). */
export const ALIVE_MODEL = 'alive-model';
/** airoute's route for it. */
export const ALIVE_ROUTE = 'alive';
/** airoute's one backend in the shared shape. */
export const SHARED_BACKEND = 'shared';

/** airoute's route (and, isolated, backend name prefix) for a scenario. */
export const routeOf = (s: Scenario): string => `f-${s.id}`;

/** The upstream model names a scenario's primary and fallback are asked for in a shape. */
export function modelsOf(shape: Shape, s: Scenario): { primary: string; fallback: string } {
  return shape === 'isolated' ? { primary: PRIMARY_MODEL, fallback: FALLBACK_MODEL } : { primary: `${s.id}-primary`, fallback: `${s.id}-fallback` };
}

/** The upstream hosts of a shape: isolated, two (primary, fallback); shared, one serving both. */
export interface ShapeMocks {
  primary: { origin: string; port: number };
  fallback: { origin: string; port: number };
}

export interface SystemState {
  id: FaultSystem;
  shape: Shape;
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
  shape: Shape;
  mocks: ShapeMocks;
  noBuild: boolean;
  commit: string;
  /** The compiled build, prepared once for both shapes. */
  dist?: { why: string } | { version: string };
  /** Systems opened for another shape whose process holds no state between requests (portkey) and can serve this shape too. */
  reuse?: SystemState[];
}

/**
 * Per scenario a route [primary → fallback] with the conduct above. Isolated: each its own two
 * backends; shared: one backend for every route, the fallback another model on it. Plus `alive`.
 */
export function airouteConfig(o: FaultsSetup): unknown {
  const circuit = { consecutiveFailures: CONDUCT.attempts, cooldownMs: CONDUCT.cooldownMs };
  const backend = (name: string, origin: string) => ({ name, type: 'openai-compatible', baseURL: `${origin}/v1`, apiKey: { env: KEY_ENV }, circuit });
  const timeouts = { connectMs: CONDUCT.timeoutMs, firstTokenMs: CONDUCT.timeoutMs, idleMs: CONDUCT.timeoutMs, totalMs: o.limitMs - 2000 };
  const retry = { attempts: CONDUCT.attempts, backoff: { baseMs: 100, maxMs: 1000 }, honorRetryAfter: true };
  const backends: unknown[] = [];
  const routes: unknown[] = [];
  if (o.shape === 'shared') backends.push(backend(SHARED_BACKEND, o.mocks.primary.origin));
  else backends.push(backend(ALIVE_ROUTE, o.mocks.primary.origin));
  for (const s of o.scenarios) {
    const r = routeOf(s);
    const m = modelsOf(o.shape, s);
    if (o.shape === 'isolated') backends.push(backend(`${r}-a`, o.mocks.primary.origin), backend(`${r}-b`, o.mocks.fallback.origin));
    const [a, b] = o.shape === 'isolated' ? [`${r}-a`, `${r}-b`] : [SHARED_BACKEND, SHARED_BACKEND];
    routes.push({ model: r, backends: [{ backend: a, model: m.primary }, { backend: b, model: m.fallback }], retry, timeouts, resume: 'prefill' });
  }
  routes.push({ model: ALIVE_ROUTE, backends: [{ backend: o.shape === 'shared' ? SHARED_BACKEND : ALIVE_ROUTE, model: ALIVE_MODEL }], retry, timeouts });
  return { backends, routes };
}

/** Per scenario an upstream block (primary, backup) and a location `/f/<id>/`; `/alive/` to the primary's host. */
function nginxHttp(o: FaultsSetup, port: number): string {
  const ups = o.scenarios
    .map(
      (_, i) => `  upstream f_${i} {
    server 127.0.0.1:${o.mocks.primary.port} max_fails=1 fail_timeout=${CONDUCT.cooldownMs / 1000}s;
    server 127.0.0.1:${o.mocks.fallback.port} backup;
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
  upstream f_alive {
    server 127.0.0.1:${o.mocks.primary.port};
    keepalive 4;
  }
  server {
    listen 127.0.0.1:${port};
    location = /_airoute_ready { return 200 "ok\\n"; }
${locs}
    location /alive/ {
      proxy_pass http://f_alive/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }`;
}

/** Portkey's config, sent per request in `x-portkey-config`: fallback over two targets, retries on the primary. */
export function portkeyConfig(a: string, b: string, models: { primary: string; fallback: string } = { primary: PRIMARY_MODEL, fallback: FALLBACK_MODEL }): Record<string, unknown> {
  return {
    strategy: { mode: 'fallback' },
    targets: [
      {
        provider: 'openai',
        api_key: 'sk-bench-not-a-real-key',
        custom_host: `${a}/v1`,
        override_params: { model: models.primary },
        retry: { attempts: CONDUCT.attempts - 1, use_retry_after_header: true },
        request_timeout: CONDUCT.timeoutMs,
      },
      { provider: 'openai', api_key: 'sk-bench-not-a-real-key', custom_host: `${b}/v1`, override_params: { model: models.fallback }, request_timeout: CONDUCT.timeoutMs },
    ],
  };
}

/** Portkey's config for the healthy request: one target, the alive model on the primary's host. */
export function portkeyAliveConfig(a: string): Record<string, unknown> {
  return {
    strategy: { mode: 'fallback' },
    targets: [{ provider: 'openai', api_key: 'sk-bench-not-a-real-key', custom_host: `${a}/v1`, override_params: { model: ALIVE_MODEL }, request_timeout: CONDUCT.timeoutMs }],
  };
}

/** Starts every wanted system of a shape against its mocks; one that cannot start (or cannot express the shape) is kept with the reason. */
export async function openFaultSystems(h: Harness, o: FaultsSetup): Promise<SystemState[]> {
  const out: SystemState[] = [];
  const t = CONDUCT.timeoutMs;
  const shape = o.shape;
  const where = shape === 'isolated' ? 'per scenario' : 'one upstream host for every scenario,';

  if (o.wanted.has('direct'))
    out.push({ id: 'direct', shape, available: true, fallback: 'none', config: `the client sends to the primary itself (${shape === 'isolated' ? 'its own host' : 'the shared host'})`, origin: o.mocks.primary.origin });

  if (o.wanted.has('nginx')) {
    const st: SystemState = {
      id: 'nginx',
      shape,
      available: false,
      fallback: 'the backup server, a replica of the same model (nginx forwards the model name as sent)',
      config: `per scenario an upstream { primary max_fails=1 fail_timeout=${CONDUCT.cooldownMs / 1000}s; fallback backup }, proxy_next_upstream error timeout http_429 http_500 http_502 http_503 http_504 non_idempotent, proxy_next_upstream_tries 2, proxy_connect/read/send_timeout ${t / 1000}s, proxy_buffering off. nginx cannot retry the same server, honour Retry-After, rename the model, or recover a stream once bytes reached the client.`,
    };
    if (shape === 'shared') st.why = 'not run in this shape: one host serves every model, and nginx cannot rename the model, so its backup would be the same host asked for the same model (no fallback to express)';
    else {
      const n = await openNginx(h, (port) => nginxHttp(o, port), undefined);
      if (n.ok) Object.assign(st, { available: true, version: n.version, origin: n.proc.origin, proc: n.proc });
      else st.why = n.why;
    }
    out.push(st);
  }

  if (o.wanted.has('portkey')) {
    const st: SystemState = {
      id: 'portkey',
      shape,
      available: false,
      fallback: `strategy fallback over two targets (primary, then fallback with its own model name via override_params${shape === 'shared' ? ', on the same host' : ''})`,
      config: `x-portkey-config per request: {strategy: {mode: "fallback"}, targets: [primary with retry {attempts: ${CONDUCT.attempts - 1}, use_retry_after_header: true} (= ${CONDUCT.attempts} requests), fallback], request_timeout ${t} ms on each target}, as Portkey's docs write it (fallback on any non-2xx, the default; retries on 429/500/502/503/504, the default). Portkey has no circuit breaker and no first-token or idle timeout (request_timeout ends at the response headers).`,
    };
    // Portkey's config travels with each request and it keeps no state between requests: one process serves both shapes.
    const running = o.reuse?.find((x) => x.id === 'portkey' && x.available);
    if (running) Object.assign(st, { available: true, version: running.version, origin: running.origin, proc: running.proc });
    else {
      const k = await openPortkey(h, undefined);
      if (k.ok) Object.assign(st, { available: true, version: k.version, origin: k.proc.origin, proc: k.proc });
      else st.why = k.why;
    }
    out.push(st);
  }

  if (o.wanted.has('airoute')) {
    const st: SystemState = {
      id: 'airoute',
      shape,
      available: false,
      fallback: shape === 'isolated' ? "the route's second backend, with its own model name" : "the route's second target: another model on the same backend",
      config: `${where} a route [primary → fallback] with retry {attempts: ${CONDUCT.attempts}, backoff 100..1000 ms, honorRetryAfter}, timeouts {connect, firstToken, idle: ${t} ms, total ${(o.limitMs - 2000) / 1000} s}, resume prefill, circuit {consecutiveFailures: ${CONDUCT.attempts}, cooldownMs: ${CONDUCT.cooldownMs}} per deployment (the host breaker at its default), fallbackOn at its default (all conditions); ${
        shape === 'isolated' ? 'backends of their own per scenario, so no circuit or budget state carries over' : `one backend (\`${SHARED_BACKEND}\`) for every route, so every circuit and budget lives side by side in one process, all scenarios back to back with no restart`
      }. Run as \`node bin/airoute.js sidecar\` (compiled), NODE_ENV=production.`,
    };
    const dist = o.dist ?? prepareDist(o.noBuild, o.commit, h.log);
    if ('why' in dist) st.why = dist.why;
    else
      try {
        const file = path.join(h.tmp, `airoute-${shape}.json`);
        writeConfig(file, airouteConfig(o));
        const p = await startAiroute(h.nodeBin, file, { name: `airoute (${shape})`, entry: 'dist' });
        Object.assign(st, { available: true, version: dist.version, origin: p.origin, adminOrigin: `http://127.0.0.1:${p.adminPort}`, proc: p });
      } catch (err) {
        st.why = `could not start: ${(err as Error).message.slice(0, 600)}`;
      }
    out.push(st);
  }
  return out;
}
