// Async and event-driven requests: `Prefer: respond-async` submissions, polling, cancel, the
// signed completion webhook, the backend-in-the-loop `/complete` call, and the event streams.
// Records live in an AsyncStore: this process's memory, or Redis shared by every replica. The
// process that runs a request holds its live record and exchange; any other replica reads the
// store, forwards cancels and /complete calls to the owner, and ends a request whose owner is
// gone (takeover: failed, reason sidecar_restarted).
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { canonicalJson } from '../../api/v1alpha1/validate.ts';
import type { ProxyRequest } from '../chat/types.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';
import { JournalGone, JournalUnknown, journalError, type Journal } from '../events/journal.ts';
import { TERMINAL_EVENTS } from '../events/types.ts';
import { collect } from '../pipeline/collect.ts';
import type { RouteExchange } from '../pipeline/exchange.ts';
import { finish } from '../pipeline/finish.ts';
import { openExchange } from '../pipeline/open.ts';
import type { Sidecar } from '../sidecar.ts';
import { cancelled } from '../sidecar.ts';
import { publicView } from './registry.ts';
import type { AsyncStore, StoreRead } from './store.ts';
import { FINISHED, type AsyncRecord, type ControlMessage, type ResponsesSettings } from './types.ts';
import { checkDestination, systemResolver, type HostResolver } from './destinations.ts';
import { ReplayGuard, verifyCompletion } from './completion.ts';
import { checkCallbackUrl, deliverWebhook, type SignedHeaders, type WebhookPayload } from './webhooks.ts';

/** A `Prefer: respond-async` submission, as the HTTP layer decoded it. */
export interface AsyncSubmission {
  id: string;
  request: ProxyRequest;
  config: RuntimeConfig;
  /** The path it was posted to: part of what an Idempotency-Key is bound to. */
  path: string;
  idempotencyKey?: string;
  callbackUrl?: string;
  awaitCallback: boolean;
  /** A Responses API background response (`background: true`). */
  responses?: ResponsesSettings;
}

/** What a submission got: the record's public view, and whether an earlier submission with the same key answered. */
export interface Accepted {
  view: Record<string, unknown>;
  replayed: boolean;
}

export const requestLocation = (id: string) => `/airoute/v1/requests/${id}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class AsyncService {
  private readonly sc: Sidecar;
  private readonly journal: () => Journal;
  private readonly store: () => AsyncStore;
  /** The requests this process runs, until they finish: the live record and its exchange. */
  /** Async requests this process runs, with the promise of their run settling. */
  private readonly local = new Map<string, { record: AsyncRecord; x: RouteExchange; settled: Promise<void> }>();
  /** Submissions past the capacity check, waiting for the store: they hold a slot. */
  private reserved = 0;
  /** Resolvers of requests waiting for their backend's /complete call. */
  private readonly awaiting = new Map<string, (payload: unknown) => void>();
  private readonly closing = new AbortController();
  /** Told of every finished webhook delivery (metrics). */
  onDelivery: (ok: boolean) => void = () => undefined;

  /** Signed /complete messages already used (replays are refused). */
  private readonly replays = new ReplayGuard();
  /** How callback hosts are resolved (tests play DNS rebinding through it). */
  private readonly resolveHost: HostResolver;

  /** `store` and `journal` are getters: both are chosen with the first config, and kept. */
  constructor(sc: Sidecar, journal: () => Journal, store: () => AsyncStore, opts: { resolveHost?: HostResolver } = {}) {
    this.sc = sc;
    this.journal = journal;
    this.store = store;
    this.resolveHost = opts.resolveHost ?? systemResolver;
  }

  /** Async requests this process runs now (the capacity limit is per sidecar). */
  get inFlight(): number {
    return this.local.size;
  }

  /** Changes a record in place and persists it; a finished request is no longer this process's to run. */
  private update(record: AsyncRecord, patch: Partial<AsyncRecord>): void {
    Object.assign(record, patch, { updatedAt: Date.now() });
    if (FINISHED.has(record.status)) this.local.delete(record.id);
    this.store().put(record);
  }

  private replayed(record: AsyncRecord): Accepted {
    return { view: publicView(record), replayed: true };
  }

  private conflict(key: string): AirouteError {
    return new AirouteError('idempotency_conflict', 422, `Idempotency-Key "${key}" was already used with a different request body`, { param: 'Idempotency-Key' });
  }

  /** Takes a `Prefer: respond-async` submission (the caller answers 202 + Location), then runs it in the background. */
  async submit(s: AsyncSubmission): Promise<Accepted> {
    const { id, request, config, callbackUrl, awaitCallback } = s;
    const store = this.store();
    const key = s.idempotencyKey;
    const bodyHash = createHash('sha256').update(`${s.path}\n${canonicalJson(request.body)}`).digest('hex');
    // Work that cannot be kept is refused up front, not accepted and lost.
    const down = store.unavailable();
    if (down) throw new AirouteError('unavailable', 503, `async requests are unavailable: ${down}`, { retryAfterMs: 1000 });
    if (key) {
      const seen = await store.findKey(key);
      if (seen && seen.bodyHash !== bodyHash) throw this.conflict(key);
      if (seen) {
        const got = await store.get(seen.id);
        if (got.status === 'ok') return this.replayed(got.record);
      }
    }
    if (this.inFlight + this.reserved >= config.asyncMaxInFlight)
      throw new AirouteError('async_capacity', 429, `too many async requests in flight (limit ${config.asyncMaxInFlight}); retry later`, { retryAfterMs: 1000 });
    if (awaitCallback && !callbackUrl) throw new AirouteError('invalid_request', 400, 'Airoute-Await-Callback needs an Airoute-Callback-Url', { param: 'Airoute-Await-Callback' });
    if (callbackUrl) {
      const refused = await checkCallbackUrl(callbackUrl, config, this.resolveHost);
      if (refused) throw refused;
    }
    const route = config.routes.get(request.model)!;
    const now = Date.now();
    const record: AsyncRecord = {
      id,
      format: request.format,
      operation: request.operation,
      model: request.model,
      status: 'running',
      createdAt: now,
      updatedAt: now,
      attempts: 0,
      bodyHash,
      ...(key ? { idempotencyKey: key } : {}),
      ...(callbackUrl ? { callback: { url: callbackUrl, await: awaitCallback, delivery: { status: 'pending', attempts: 0 } } } : {}),
      ...(store.owner ? { owner: store.owner } : {}),
      ...(s.responses ? { responses: s.responses } : {}),
    };
    // Created (and the key claimed) before the request starts: two replicas given one key race here, atomically.
    this.reserved++;
    let created: Awaited<ReturnType<AsyncStore['create']>>;
    try {
      created = await store.create(record);
    } finally {
      this.reserved--;
    }
    if (created.status === 'exists') {
      if (created.bodyHash !== bodyHash) throw this.conflict(key!);
      const got = await store.get(created.id);
      if (got.status === 'ok') return this.replayed(got.record);
      throw new AirouteError('unavailable', 503, `the request holding Idempotency-Key "${key}" could not be read; retry`, { retryAfterMs: 1000 });
    }
    const x = openExchange(this.sc, id, request, route, config);
    const entry = { record, x, settled: Promise.resolve() };
    this.local.set(id, entry);
    const view = publicView(record);
    entry.settled = this.run(record, x, config.webhooks).catch((err: unknown) => this.sc.defect('async', err));
    return { view, replayed: false };
  }

  private async run(record: AsyncRecord, x: RouteExchange, hooks: RuntimeConfig['webhooks']): Promise<void> {
    const t0 = performance.now();
    const out = await collect(x);
    const attempts = x.lifecycle.attempt;
    if (!out.ok) {
      const status = out.err.code === 'cancelled' ? 'cancelled' : 'failed';
      this.update(record, { status, attempts, error: record.format === 'anthropic' ? out.err.toAnthropic() : out.err.toOpenAI() });
      finish(this.sc, x, out.tally, t0, out.err);
      this.notify(record, status === 'cancelled' ? 'request.cancelled' : 'request.failed', hooks);
      return;
    }
    if (record.callback?.await) {
      // Backend in the loop: the result goes to the app's backend first; subscribers see
      // completion only when it answers /complete, or an explicit failure at the timeout.
      this.update(record, { status: 'awaiting_callback', attempts, result: out.body });
      const payload = new Promise<unknown>((resolve) => this.awaiting.set(record.id, resolve));
      this.notify(record, 'request.awaiting_callback', hooks);
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), hooks.awaitTimeoutMs).unref());
      const cancel = new Promise<'cancelled'>((r) => x.scope.signal.addEventListener('abort', () => r('cancelled'), { once: true }));
      const got = await Promise.race([payload.then((p) => ({ p })), timeout, cancel]);
      this.awaiting.delete(record.id);
      if (got === 'timeout' || got === 'cancelled') {
        const err =
          got === 'timeout'
            ? new AirouteError('request_timeout', 504, `the app's backend did not call /complete within ${hooks.awaitTimeoutMs} ms`, { extra: { reason: 'callback_timeout' } })
            : cancelled();
        this.update(record, { status: got === 'timeout' ? 'failed' : 'cancelled', error: record.format === 'anthropic' ? err.toAnthropic() : err.toOpenAI() });
        finish(this.sc, x, out.tally, t0, err);
        return;
      }
      this.update(record, { status: 'completed', callback: { ...record.callback, payload: got.p } });
      finish(this.sc, x, out.tally, t0, undefined, { callback: got.p });
      return;
    }
    this.update(record, { status: 'completed', attempts, result: out.body });
    finish(this.sc, x, out.tally, t0);
    this.notify(record, 'request.completed', hooks);
  }

  /** Sends the webhook (if the request has one) and records the delivery outcome in its status. */
  private notify(record: AsyncRecord, type: string, hooks: RuntimeConfig['webhooks']): void {
    const cb = record.callback;
    if (!cb || !hooks.secret) return;
    const payload: WebhookPayload = { type, timestamp: new Date().toISOString(), data: publicView(record) };
    void deliverWebhook(cb.url, payload, {
      secret: hooks.secret,
      attempts: hooks.attempts,
      timeoutMs: hooks.timeoutMs,
      destination: (url) => checkDestination(url, { allow: hooks.allowed, privateNetworks: hooks.privateNetworks, resolve: this.resolveHost }),
      signal: this.closing.signal,
      onAttempt: (r) => {
        cb.delivery = {
          status: r.ok ? 'delivered' : 'pending',
          attempts: cb.delivery.attempts + 1,
          ...(r.status !== undefined ? { lastStatus: r.status } : {}),
          ...(r.error ? { lastError: r.error } : {}),
          ...(r.ok ? { deliveredAt: new Date().toISOString() } : {}),
        };
        this.update(record, {});
      },
    }).then((r) => {
      this.onDelivery(r.ok);
      if (!r.ok) {
        cb.delivery = { ...cb.delivery, status: 'failed' };
        this.update(record, {});
      }
      this.sc.logger[r.ok ? 'debug' : 'warn']({ requestId: record.id, type, attempts: r.attempts, status: r.status, ok: r.ok }, 'webhook delivery');
    });
  }

  /** Before an events stream opens: a shared store answers "unknown" or "gone" asynchronously, so ask before the 200 goes out. */
  async checkEvents(id: string, after: number): Promise<void> {
    const journal = this.journal();
    if (!journal.check) return;
    try {
      await journal.check(id, after);
    } catch (err) {
      throw err instanceof AirouteError ? err : journalError(err, id);
    }
  }

  private missing(id: string, status: 'gone' | 'unknown'): AirouteError {
    return status === 'gone' ? new AirouteError('gone', 410, `request ${id} is past retention`) : new AirouteError('not_found', 404, `no request ${id}`);
  }

  /**
   * A record another process (or a previous life of this one) runs, from the store. An unfinished
   * one whose owner is gone is ended here: failed, reason sidecar_restarted, exactly once across
   * replicas (see takenOver for its webhook).
   */
  private async remote(id: string): Promise<StoreRead> {
    const store = this.store();
    const got = await store.get(id);
    if (got.status !== 'ok' || FINISHED.has(got.record.status) || !store.takeover) return got;
    // taken here, or ended meanwhile (by its owner, or by another replica's takeover): read it again
    return (await store.takeover(id)) === 'alive' ? got : store.get(id);
  }

  /** This process ended a request whose sidecar was gone (on a poll or a follow): its webhook, if any, goes out from here. */
  takenOver(id: string): void {
    const hooks = this.sc.config?.webhooks;
    if (!hooks?.secret) return;
    this.store()
      .get(id)
      .then((got) => {
        if (got.status === 'ok' && got.record.callback) this.notify(got.record, 'request.failed', hooks);
      })
      .catch((err: unknown) => this.sc.logger.warn({ requestId: id, err: (err as Error).message }, 'could not send the webhook of a request taken over'));
  }

  /** An async request's record, wherever it runs (an unfinished one whose sidecar is gone is ended first, as for a poll). */
  async find(id: string): Promise<StoreRead> {
    const mine = this.local.get(id);
    return mine ? { status: 'ok', record: mine.record } : this.remote(id);
  }

  /** GET /airoute/v1/requests/{id}: an async request's record, or a sync request's status from its events. */
  async status(id: string): Promise<Record<string, unknown>> {
    const mine = this.local.get(id);
    if (mine) return publicView(mine.record);
    const got = await this.remote(id);
    if (got.status === 'ok') return publicView(got.record);
    // A sync request has no async record, but its lifecycle is in the journal.
    let r = await this.journal().read(id, 0);
    if (r.status !== 'ok') throw journalError(r.status === 'gone' ? new JournalGone(id) : new JournalUnknown(id), id);
    const store = this.store();
    if (!r.events.some((e) => TERMINAL_EVENTS.has(e.type)) && store.takeover && (await store.takeover(id)) !== 'alive') r = await this.journal().read(id, 0);
    const events = r.status === 'ok' ? r.events : [];
    const terminal = events.find((e) => TERMINAL_EVENTS.has(e.type));
    const status = !terminal ? 'running' : terminal.type === 'request.completed' ? 'completed' : terminal.type === 'request.failed' ? 'failed' : 'cancelled';
    return { id, object: 'airoute.request', status, attempts: events.reduce((n, e) => Math.max(n, e.attempt), 0), sync: true };
  }

  /** After forwarding to the owner: the record as soon as `done` holds (or after a second, as it is). */
  private async awaitRemote(id: string, done: (r: AsyncRecord) => boolean): Promise<AsyncRecord | undefined> {
    let last: AsyncRecord | undefined;
    for (let i = 0; i < 100; i++) {
      const got = await this.store().get(id);
      if (got.status !== 'ok') return last;
      last = got.record;
      if (done(last)) return last;
      await sleep(10);
    }
    return last;
  }

  private async forward(record: AsyncRecord, msg: ControlMessage): Promise<void> {
    const store = this.store();
    if (!store.forward || !record.owner) throw new AirouteError('invalid_request', 409, `request ${record.id} is not running on this sidecar`);
    await store.forward(record.owner, msg);
  }

  async cancel(id: string): Promise<Record<string, unknown>> {
    const mine = this.local.get(id);
    if (mine) {
      const record = mine.record;
      mine.x.abort(cancelled());
      await mine.settled; // the run settles the record (cancelled, its upstream aborted)
      return publicView(record);
    }
    const got = await this.remote(id);
    if (got.status !== 'ok') throw this.missing(id, got.status);
    if (FINISHED.has(got.record.status)) throw new AirouteError('invalid_request', 409, `request ${id} already ${got.record.status}`);
    // Another replica runs it: it aborts upstream when our message reaches it.
    await this.forward(got.record, { op: 'cancel', id });
    const record = await this.awaitRemote(id, (r) => FINISHED.has(r.status));
    return publicView(record ?? got.record);
  }

  /** The app's backend answers a backend-in-the-loop request: `raw` is the signed body, `headers` its Standard Webhooks headers. */
  async complete(id: string, raw: string, headers: SignedHeaders): Promise<Record<string, unknown>> {
    const mine = this.local.get(id);
    const got = mine ? undefined : await this.remote(id);
    if (got && got.status !== 'ok') throw this.missing(id, got.status);
    if (!mine && !got) throw this.missing(id, 'unknown');
    const record = mine ? mine.record : (got as { record: AsyncRecord }).record;
    const payload = verifyCompletion(id, raw, headers, this.sc.config?.webhooks.secret, this.replays);
    const resolve = this.awaiting.get(id);
    if (record.status !== 'awaiting_callback' || (mine && !resolve)) throw new AirouteError('invalid_request', 409, `request ${id} is ${record.status}, not awaiting a callback`);
    if (mine) {
      resolve!(payload);
      await mine.settled;
      return publicView(record);
    }
    await this.forward(record, { op: 'complete', id, payload });
    return publicView((await this.awaitRemote(id, (r) => r.status !== 'awaiting_callback')) ?? record);
  }

  /** A cancel or /complete another replica received for a request this process runs. */
  control(msg: ControlMessage): void {
    const mine = this.local.get(msg.id);
    if (!mine) return;
    if (msg.op === 'cancel') mine.x.abort(cancelled());
    else this.awaiting.get(msg.id)?.(msg.payload);
  }

  /** Another sidecar ended this request (this process had lost its lease): stop spending upstream on it. */
  lost(id: string): void {
    this.local.get(id)?.x.abort(new AirouteError('unavailable', 503, 'another sidecar ended this request while this one had lost its journal lease'));
  }

  close(): void {
    this.closing.abort();
    this.store().close();
  }
}
