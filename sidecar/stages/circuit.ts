import { AirouteError } from '../errors.ts';
import type { Stage } from '../pipeline/chain.ts';
import type { TargetExchange } from '../pipeline/exchange.ts';

/**
 * Skips a backend whose circuit is open, at no latency cost; in half-open, lets one probe through.
 * Acts before the first byte only. Outcomes are recorded by the attempt, which knows them.
 */
export const circuit: Stage<TargetExchange> = (next) => (x) => {
  const backend = x.target.backend;
  if (!x.resilience.for(backend).circuit.allow())
    return Promise.reject(
      new AirouteError('circuit_open', 503, `backend "${backend.name}" is unavailable (circuit open)`, { fallback: 'circuit_open', backend: backend.name }),
    );
  return next(x);
};
