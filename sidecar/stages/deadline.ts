import { AirouteError } from '../errors.ts';
import type { Stage } from './types.ts';

/**
 * The route's total timeout. Acts before and after the first byte: when it fires, the exchange is
 * aborted, which ends an in-flight attempt, a backoff sleep, or a stream already reaching the client.
 */
export const deadline: Stage = (next) => (x) => {
  const ms = x.route.timeouts.totalMs;
  x.deadline = Date.now() + ms;
  const timer = setTimeout(() => x.abort(new AirouteError('request_timeout', 504, `the request exceeded its total timeout of ${ms} ms`)), ms);
  timer.unref();
  x.cleanup.push(() => clearTimeout(timer));
  return next(x);
};
