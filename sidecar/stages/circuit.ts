import type { Stage } from '../pipeline/chain.ts';
import type { TargetExchange } from '../pipeline/exchange.ts';

/**
 * Skips a target whose deployment circuit (backend x model) or host circuit is open, at no latency
 * cost: no attempt is made and the fallback stage moves on. In half-open, lets one probe through.
 * Acts before the first byte only. Outcomes are recorded by the attempt, which knows them.
 */
export const circuit: Stage<TargetExchange> = (next) => (x) => {
  const refused = x.resilience.admit(x.target);
  return refused ? Promise.reject(refused) : next(x);
};
