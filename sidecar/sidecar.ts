// The sidecar's process-wide state: the running config (swapped atomically; a request keeps the
// route object it started with), per-deployment and per-host resilience state, transports, and the listeners
// that every request's lifecycle events go to.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULTS } from '../api/v1alpha1/config.ts';
import type { ProxyRequest, Usage } from './chat/types.ts';
import type { RuntimeConfig, RuntimeTarget } from './config/runtime.ts';
import { AirouteError } from './errors.ts';
import type { EventListener, LifecycleEvent } from './events/types.ts';
import { Resilience } from './stages/state.ts';
import { DemoTransport } from './upstream/demo.ts';
import { HttpTransport } from './upstream/http.ts';
import type { Transport } from './upstream/transport.ts';

export type RequestOutcome = 'success' | 'error' | 'interrupted' | 'cancelled';

/** One line per request: what logs and request-level metrics are made of. */
export interface RequestRecord {
  id: string;
  operation: ProxyRequest['operation'];
  format: ProxyRequest['format'];
  route: string;
  backend?: string;
  model?: string;
  provider?: string;
  stream: boolean;
  outcome: RequestOutcome;
  status: number;
  code?: string;
  attempts: number;
  retries: number;
  fallbacks: number;
  resumes: number;
  durationMs: number;
  ttftMs?: number;
  outputChunks: number;
  usage?: Usage;
}

export interface RequestObserver {
  requestFinished(rec: RequestRecord): void;
}

export class Sidecar {
  private current: RuntimeConfig | undefined;
  readonly resilience = new Resilience();
  private readonly http = new HttpTransport();
  private readonly demo = new DemoTransport((name) => this.current?.backends.get(name)?.demo ?? DEFAULTS.demo);
  private readonly eventListeners: EventListener[] = [];
  private readonly observers: RequestObserver[] = [];
  readonly logger: Logger;
  private readonly configListeners: ((c: RuntimeConfig) => void)[] = [];

  constructor(logger: Logger) {
    this.logger = logger;
  }

  get config(): RuntimeConfig | undefined {
    return this.current;
  }

  /** Atomic: requests in flight keep the route they resolved; new requests see the new config. */
  swap(config: RuntimeConfig): void {
    this.current = config;
    this.resilience.configure(config);
    for (const l of this.configListeners) l(config);
  }

  onConfig(listener: (c: RuntimeConfig) => void): void {
    this.configListeners.push(listener);
  }

  onEvent(listener: EventListener): void {
    this.eventListeners.push(listener);
  }

  observe(observer: RequestObserver): void {
    this.observers.push(observer);
  }

  transportFor = (target: RuntimeTarget): Transport => (target.backend.adapter.inProcess ? this.demo : this.http);

  /** Every request's lifecycle events go through here to the journal, metrics and traces. */
  readonly dispatch = (ev: LifecycleEvent): void => {
    for (const l of this.eventListeners) l(ev);
  };

  newRequestId(): string {
    return randomUUID();
  }

  finished(rec: RequestRecord): void {
    for (const o of this.observers) o.requestFinished(rec);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

export const cancelled = () => new AirouteError('cancelled', 499, 'the client cancelled the request');
