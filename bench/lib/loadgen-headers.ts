// Preloaded (`node --import`) into the load generator (bench/loadgen.ts) by bench/peers.ts: adds
// request headers per origin. The load generator sends the same headers to every target, but
// Portkey's gateway routes by headers (`x-portkey-provider`, `x-portkey-custom-host`), so requests
// to Portkey's origin need them, and only those requests. The map comes from the environment:
//
//   AIROUTE_BENCH_ORIGIN_HEADERS='{"http://127.0.0.1:8787": {"x-portkey-provider": "openai", ...}}'
//
// The load generator dispatches through undici `Pool`s, one per origin; this wraps
// `Pool.prototype.dispatch` once, before the load generator loads, and merges the origin's headers
// into the request's (plain-object headers, as the load generator sends them). Requests to other
// origins are untouched. (If the load generator gains per-target headers, this file can go.)
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';

const map = JSON.parse(process.env.AIROUTE_BENCH_ORIGIN_HEADERS ?? '{}') as Record<string, Record<string, string>>;

/** The pool's origin: undici keeps it under an internal symbol described as `url`. */
const origins = new WeakMap<object, string>();
function originOf(pool: object): string {
  let o = origins.get(pool);
  if (o === undefined) {
    const sym = Object.getOwnPropertySymbols(pool).find((s) => s.description === 'url');
    const url = sym ? ((pool as Record<symbol, unknown>)[sym] as URL | undefined) : undefined;
    o = url?.origin ?? '';
    origins.set(pool, o);
  }
  return o;
}

if (Object.keys(map).length) {
  const dispatch = Pool.prototype.dispatch;
  Pool.prototype.dispatch = function (this: Pool, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const extra = map[originOf(this)];
    const h = opts.headers;
    if (extra && (h === undefined || h === null || (typeof h === 'object' && !Array.isArray(h) && !(Symbol.iterator in h))))
      return dispatch.call(this, { ...opts, headers: { ...(h as Record<string, string> | null | undefined), ...extra } }, handler);
    return dispatch.call(this, opts, handler);
  };
}
