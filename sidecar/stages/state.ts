// Per-backend resilience state that outlives a request and a config swap: the circuit breaker
// and the retry budget, keyed by backend name.
import type { RuntimeBackend } from '../config/runtime.ts';
import { RetryBudget } from './budget.ts';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.ts';

export interface BackendState {
  circuit: CircuitBreaker;
  budget: RetryBudget;
}

export type CircuitListener = (backend: string, state: CircuitState) => void;

export class Resilience {
  private readonly backends = new Map<string, BackendState>();
  private readonly listeners: CircuitListener[] = [];

  onCircuitChange(listener: CircuitListener): void {
    this.listeners.push(listener);
  }

  for(backend: RuntimeBackend): BackendState {
    let s = this.backends.get(backend.name);
    if (!s) {
      s = {
        circuit: new CircuitBreaker(backend.circuit, (state) => this.listeners.forEach((l) => l(backend.name, state))),
        budget: new RetryBudget(),
      };
      this.backends.set(backend.name, s);
    }
    return s;
  }

  /** Apply a new config's thresholds; forget backends it no longer has. */
  configure(backends: ReadonlyMap<string, RuntimeBackend>): void {
    for (const name of [...this.backends.keys()]) if (!backends.has(name)) this.backends.delete(name);
    for (const b of backends.values()) this.for(b).circuit.configure(b.circuit);
  }

  budgetExhaustions(): [string, number][] {
    return [...this.backends].map(([name, s]) => [name, s.budget.exhausted]);
  }

  states(): [string, CircuitState][] {
    return [...this.backends].map(([name, s]) => [name, s.circuit.state]);
  }
}
