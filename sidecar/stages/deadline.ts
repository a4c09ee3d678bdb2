import { AirouteError } from '../errors.ts';
import type { Stage } from '../pipeline/chain.ts';
import type { RouteExchange } from '../pipeline/exchange.ts';

/**
 * The route's total timeout. Acts before and after the first byte: when it fires, the exchange is
 * aborted, which ends an in-flight attempt, a backoff sleep, or a stream already reaching the client.
 */
export const deadline: Stage<RouteExchange> = (next) => (x) => {
  const ms = x.route.timeouts.totalMs;
  // On the exchange's one timer, which finish() stops when the request is over. Until the deadline
  // is near, it wakes at most every first-token/idle length, so arming those clocks costs nothing.
  const tm = x.route.timeouts;
  x.scope.deadline(ms, () => new AirouteError('request_timeout', 504, `the request exceeded its total timeout of ${ms} ms`), Math.min(tm.firstTokenMs, tm.idleMs));
  return next({ ...x, deadline: Date.now() + ms });
};
