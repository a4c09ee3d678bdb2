// The sidecar's process-wide state: the running config (swapped atomically; a request keeps the
// route object it started with), per-deployment and per-host resilience state, transports, and the listeners
// that every request's lifecycle events go to.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULTS } from '../api/v1alpha1/constants.ts';
import type { ProxyRequest, Usage } from './chat/types.ts';
import type { RuntimeConfig, RuntimeTarget } from './config/runtime.ts';
import { AirouteError } from './errors.ts';
import { redactSecrets } from './providers/classify.ts';
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

/** Where a defect of this process surfaced: a listener's handler, the request pipeline, or an async run. */
export const DEFECT_SITES = ['data', 'control', 'events', 'admin', 'pipeline', 'async'] as const;
export type DefectSite = (typeof DEFECT_SITES)[number];

export class Sidecar {
  private current: RuntimeConfig | undefined;
  readonly resilience = new Resilience();
  private readonly http = new HttpTransport();
  private readonly demo = new DemoTransport((name) => this.current?.backends.get(name)?.demo ?? DEFAULTS.demo);
  private readonly eventListeners: EventListener[] = [];
  private readonly observers: RequestObserver[] = [];
  readonly logger: Logger;
  private readonly configListeners: ((c: RuntimeConfig) => void)[] = [];
  private readonly defectListeners: ((site: DefectSite) => void)[] = [];

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

  onDefect(listener: (site: DefectSite) => void): void {
    this.defectListeners.push(listener);
  }

  /**
   * A defect of this process (a bug, not bad input and not an upstream's failure) ended one
   * request or socket: it is logged with its stack and counted, and the process goes on serving
   * everything else. Messages are scrubbed of keys like every other log line.
   */
  defect(site: DefectSite, err: unknown): void {
    const secrets = this.current?.secrets ?? [];
    const e = err instanceof Error ? err : new Error(String(err));
    this.logger.error({ site, err: redactSecrets(e.message, secrets), stack: e.stack ? redactSecrets(e.stack, secrets) : undefined }, 'internal error: the request was ended, the sidecar goes on');
    for (const l of this.defectListeners) l(site);
  }

  finished(rec: RequestRecord): void {
    for (const o of this.observers) o.requestFinished(rec);
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}

/** Why a request was cancelled: its client went away (`client`), or someone cancelled it through the API (`cancel`). */
export type CancelReason = 'client' | 'cancel';

export const cancelled = (reason: CancelReason = 'cancel') =>
  new AirouteError('cancelled', 499, reason === 'client' ? 'the client disconnected before the answer was complete' : 'the request was cancelled', { extra: { reason } });
