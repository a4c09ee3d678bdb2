import type { RuntimeTarget } from '../config/runtime.ts';
import { AirouteError, asAirouteError } from '../errors.ts';
import type { Stage } from '../pipeline/chain.ts';
import type { RouteExchange, TargetExchange } from '../pipeline/exchange.ts';

/** Chain order: by priority; among equal priority, a weighted random order (weight 0 goes last). */
export function orderTargets(targets: readonly RuntimeTarget[], random = Math.random): RuntimeTarget[] {
  if (targets.length <= 1) return [...targets];
  const groups = new Map<number, RuntimeTarget[]>();
  for (const t of targets) (groups.get(t.priority) ?? groups.set(t.priority, []).get(t.priority)!).push(t);
  const out: RuntimeTarget[] = [];
  for (const p of [...groups.keys()].sort((a, b) => a - b)) {
    const pool = [...groups.get(p)!];
    while (pool.length) {
      const total = pool.reduce((s, t) => s + t.weight, 0);
      let i = 0;
      if (total > 0) {
        let r = random() * total;
        for (; i < pool.length; i++) if ((r -= pool[i]!.weight) < 0) break;
        if (i >= pool.length) i = pool.findLastIndex((t) => t.weight > 0);
      }
      out.push(pool.splice(i, 1)[0]!);
    }
  }
  return out;
}

/**
 * Walks the route's chain: after a backend's retries are spent, or on a failure retrying it cannot
 * fix (bad key, unknown model, context too long, open circuit), the next backend gets the request
 * with its own model name. A client error (400, content policy) stops here: another backend would
 * say the same or, worse, answer something else. Acts before the first byte only.
 */
export const fallback: Stage<RouteExchange, TargetExchange> = (next) => async (x) => {
  const order = orderTargets(x.route.targets);
  let last: AirouteError | undefined;
  let incompatible: AirouteError | undefined;
  let prev: RuntimeTarget | undefined;
  /** Why the previous target was left: its fallback condition, or "incompatible". */
  let reason = '';
  /** Which breaker refused the previous target, when it was an open circuit. */
  let circuit: AirouteError['details']['circuit'];
  for (const target of order) {
    if (prev)
      x.lifecycle.emit('fallback', {
        from: prev.backend.name,
        to: target.backend.name,
        fromModel: prev.model,
        toModel: target.model,
        reason,
        ...(circuit ? { circuit } : {}),
      });
    try {
      return await next({ ...x, target });
    } catch (e) {
      const err = asAirouteError(e);
      if (x.scope.aborted) throw err;
      // A backend that cannot express the request (a parameter its format lacks) is skipped, but
      // never reported in place of a real failure of an earlier backend.
      if (err.details.incompatible) {
        incompatible ??= err;
        prev = target;
        reason = 'incompatible';
        circuit = undefined;
        continue;
      }
      const condition = err.details.fallback;
      if (!condition || !x.route.fallbackOn.has(condition)) throw err;
      last = err;
      prev = target;
      reason = condition;
      circuit = err.details.circuit;
    }
  }
  throw last ?? incompatible ?? new AirouteError('upstream_error', 502, `route "${x.route.model}" has no backend`);
};
