// Resilience state that outlives a request and a config swap, kept at two levels:
// - per deployment (a backend x an upstream model): a circuit breaker and a retry budget. A
//   model's 429s, 5xx, timeouts and stream faults count against that model only, so one model's
//   trouble never blocks another model on the same backend, and a route can fall back from a large
//   model to a small one on one provider account while the large one's circuit is open.
// - per host (a backend): a coarser breaker that counts only failures of the host itself
//   (connection refused, DNS, TLS, reset before any response), from every model, and that any
//   response from any model closes again. Only it blocks every model of a backend.
// Entries exist for what the running config names and nothing else (configure() forgets the
// rest), so metrics and /readyz, which are labelled by them, stay bounded by the config.
import type { RuntimeConfig, RuntimeTarget } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';
import { RetryBudget } from './budget.ts';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.ts';
import { AttemptHealth } from './health.ts';

export type CircuitLevel = 'deployment' | 'host';

export interface DeploymentState {
  readonly circuit: CircuitBreaker;
  readonly budget: RetryBudget;
}

interface HostState {
  readonly circuit: CircuitBreaker;
  /** By upstream model name. */
  readonly deployments: Map<string, DeploymentState>;
}

/** One breaker's state, as metrics, /readyz and logs report it. `model` is absent for a host breaker. */
export interface CircuitReport {
  level: CircuitLevel;
  backend: string;
  model?: string;
  state: CircuitState;
}

export type CircuitListener = (change: CircuitReport) => void;

export class Resilience {
  private readonly hosts = new Map<string, HostState>();
  private readonly listeners: CircuitListener[] = [];

  onCircuitChange(listener: CircuitListener): void {
    this.listeners.push(listener);
  }

  private changed(report: CircuitReport): void {
    for (const l of this.listeners) l(report);
  }

  /** The host breaker of the target's backend (shared by every model of it). */
  hostCircuit(target: RuntimeTarget): CircuitBreaker {
    return this.host(target).circuit;
  }

  private host(target: RuntimeTarget): HostState {
    const backend = target.backend;
    let h = this.hosts.get(backend.name);
    if (!h) {
      h = { circuit: new CircuitBreaker(backend.hostCircuit, (state) => this.changed({ level: 'host', backend: backend.name, state })), deployments: new Map() };
      this.hosts.set(backend.name, h);
    }
    return h;
  }

  /** The circuit and retry budget of the target's deployment (backend x model). */
  deployment(target: RuntimeTarget): DeploymentState {
    const h = this.host(target);
    let d = h.deployments.get(target.model);
    if (!d) {
      const backend = target.backend.name;
      const model = target.model;
      d = { circuit: new CircuitBreaker(target.circuit, (state) => this.changed({ level: 'deployment', backend, model, state })), budget: new RetryBudget() };
      h.deployments.set(model, d);
    }
    return d;
  }

  /**
   * May an attempt go to this target now? Undefined if yes; otherwise the `circuit_open` error that
   * says which breaker refused. A yes may be a half-open probe of either breaker (or both): the
   * attempt must then report its outcome through `attempt(target)`, which settles both.
   */
  admit(target: RuntimeTarget): AirouteError | undefined {
    const backend = target.backend.name;
    const model = target.model;
    const deployment = this.deployment(target).circuit;
    if (!deployment.allow())
      return new AirouteError('circuit_open', 503, `model "${model}" on backend "${backend}" is unavailable (circuit open)`, {
        fallback: 'circuit_open',
        backend,
        circuit: 'deployment',
        extra: { circuit: 'deployment', backend, model },
      });
    if (!this.host(target).circuit.allow()) {
      // The deployment's probe slot (if this was its probe) goes back: no attempt is made.
      deployment.neutral();
      return new AirouteError('circuit_open', 503, `backend "${backend}" is unavailable (its host circuit is open: the host itself fails)`, {
        fallback: 'circuit_open',
        backend,
        circuit: 'host',
        extra: { circuit: 'host', backend },
      });
    }
    return undefined;
  }

  /** Reports one admitted attempt's outcome to the deployment's and the host's breakers. */
  attempt(target: RuntimeTarget): AttemptHealth {
    return new AttemptHealth(this.deployment(target).circuit, this.host(target).circuit);
  }

  /** Applies a new config's thresholds (state carries over) and forgets what it no longer names. */
  configure(config: Pick<RuntimeConfig, 'routes' | 'backends'>): void {
    const named = new Map<string, Set<string>>();
    for (const route of config.routes.values())
      for (const t of route.targets) {
        (named.get(t.backend.name) ?? named.set(t.backend.name, new Set()).get(t.backend.name)!).add(t.model);
        this.deployment(t).circuit.configure(t.circuit);
      }
    for (const [name, h] of this.hosts) {
      const backend = config.backends.get(name);
      const models = named.get(name);
      if (!backend || !models) {
        this.hosts.delete(name);
        continue;
      }
      h.circuit.configure(backend.hostCircuit);
      for (const model of h.deployments.keys()) if (!models.has(model)) h.deployments.delete(model);
    }
  }

  /** Every breaker the config names: hosts first, then each of their deployments. */
  snapshot(): CircuitReport[] {
    const out: CircuitReport[] = [];
    for (const [backend, h] of this.hosts) {
      out.push({ level: 'host', backend, state: h.circuit.state });
      for (const [model, d] of h.deployments) out.push({ level: 'deployment', backend, model, state: d.circuit.state });
    }
    return out;
  }

  /** Breakers that are not closed (what /readyz lists). */
  notClosed(): CircuitReport[] {
    return this.snapshot().filter((c) => c.state !== 'closed');
  }

  /** Retries refused per deployment because its budget was spent (monotonic). */
  budgetExhaustions(): { backend: string; model: string; exhausted: number }[] {
    const out: { backend: string; model: string; exhausted: number }[] = [];
    for (const [backend, h] of this.hosts) for (const [model, d] of h.deployments) out.push({ backend, model, exhausted: d.budget.exhausted });
    return out;
  }
}
