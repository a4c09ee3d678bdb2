// Async and event-driven requests: `Prefer: respond-async` submissions, polling, cancel, the
// signed completion webhook, the backend-in-the-loop `/complete` call, and the event streams.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { canonicalJson } from '../../api/v1alpha1/validate.ts';
import { AirouteError } from '../errors.ts';
import { JournalGone, JournalUnknown, type Journal } from '../events/journal.ts';
import { journalError, resumeFrom, serveEventStream } from '../events/sse.ts';
import { TERMINAL_EVENTS } from '../events/types.ts';
import type { Sidecar } from '../sidecar.ts';
import { cancelled } from '../sidecar.ts';
import { collect, end, type Submission } from '../server/data-plane.ts';
import { parseJsonObject, readBody, sendError, sendJson } from '../server/http.ts';
import { AsyncRegistry, FINISHED, publicView, type AsyncRecord } from './registry.ts';
import { checkCallbackUrl, deliverWebhook, verifySignature, type WebhookPayload } from './webhooks.ts';

const PATH = /^\/airoute\/v1\/requests\/([^/]+)(?:\/(cancel|complete|events))?$/;
const MAX_COMPLETE_BODY = 1024 * 1024;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class AsyncService {
  readonly registry: AsyncRegistry;
  private readonly sc: Sidecar;
  private readonly journal: () => Journal;
  /** Resolvers of requests waiting for their backend's /complete call. */
  private readonly awaiting = new Map<string, (payload: unknown) => void>();
  private readonly closing = new AbortController();
  /** Told of every finished webhook delivery (metrics). */
  onDelivery: (ok: boolean) => void = () => undefined;

  constructor(sc: Sidecar, journal: () => Journal, ttlMs: number, maxRecords: number) {
    this.sc = sc;
    this.journal = journal;
    this.registry = new AsyncRegistry(ttlMs, maxRecords);
  }

  /** Takes a `Prefer: respond-async` submission: 202 + Location, then runs it in the background. */
  submit = async (s: Submission): Promise<boolean> => {
    const { id, request, config, req, res } = s;
    const key = header(req, 'idempotency-key');
    const bodyHash = createHash('sha256').update(`${req.url}\n${canonicalJson(request.body)}`).digest('hex');
    if (key) {
      const seen = this.registry.byIdempotencyKey(key);
      if (seen && seen.bodyHash !== bodyHash)
        throw new AirouteError('idempotency_conflict', 422, `Idempotency-Key "${key}" was already used with a different request body`, { param: 'Idempotency-Key' });
      if (seen) {
        const record = this.registry.get(seen.id)!;
        res.setHeader('x-airoute-request-id', record.id);
        sendJson(res, 202, publicView(record), { location: `/airoute/v1/requests/${record.id}`, 'preference-applied': 'respond-async', 'idempotent-replayed': 'true' });
        return true;
      }
    }
    if (this.registry.inFlight >= config.asyncMaxInFlight)
      throw new AirouteError('async_capacity', 429, `too many async requests in flight (limit ${config.asyncMaxInFlight}); retry later`, { retryAfterMs: 1000 });
    const callbackUrl = header(req, 'airoute-callback-url');
    const awaitCallback = /^true$/i.test(header(req, 'airoute-await-callback') ?? '');
    if (awaitCallback && !callbackUrl) throw new AirouteError('invalid_request', 400, 'Airoute-Await-Callback needs an Airoute-Callback-Url', { param: 'Airoute-Await-Callback' });
    if (callbackUrl) {
      const refused = await checkCallbackUrl(callbackUrl, config);
      if (refused) throw refused;
    }
    const route = config.routes.get(request.model)!;
    const x = this.sc.open(id, request, route, config);
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
    };
    this.registry.add(record, x);
    sendJson(res, 202, publicView(record), { location: `/airoute/v1/requests/${id}`, 'preference-applied': 'respond-async' });
    void this.run(record, x, config.webhooks);
    return true;
  };

  private async run(record: AsyncRecord, x: Parameters<typeof collect>[1], hooks: { secret?: string; attempts: number; timeoutMs: number; awaitTimeoutMs: number }): Promise<void> {
    const t0 = performance.now();
    const out = await collect(this.sc, x);
    const attempts = x.lifecycle.attempt;
    if (!out.ok) {
      const status = out.err.code === 'cancelled' ? 'cancelled' : 'failed';
      this.registry.update(record.id, { status, attempts, error: record.format === 'anthropic' ? out.err.toAnthropic() : out.err.toOpenAI() });
      end(this.sc, x, out.tally, t0, out.err);
      this.notify(record, status === 'cancelled' ? 'request.cancelled' : 'request.failed', hooks);
      return;
    }
    if (record.callback?.await) {
      // Backend in the loop: the result goes to the app's backend first; subscribers see
      // completion only when it answers /complete, or an explicit failure at the timeout.
      this.registry.update(record.id, { status: 'awaiting_callback', attempts, result: out.body });
      const payload = new Promise<unknown>((resolve) => this.awaiting.set(record.id, resolve));
      this.notify(record, 'request.awaiting_callback', hooks);
      const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), hooks.awaitTimeoutMs).unref());
      const cancel = new Promise<'cancelled'>((r) => x.signal.addEventListener('abort', () => r('cancelled'), { once: true }));
      const got = await Promise.race([payload.then((p) => ({ p })), timeout, cancel]);
      this.awaiting.delete(record.id);
      if (got === 'timeout' || got === 'cancelled') {
        const err =
          got === 'timeout'
            ? new AirouteError('request_timeout', 504, `the app's backend did not call /complete within ${hooks.awaitTimeoutMs} ms`, { extra: { reason: 'callback_timeout' } })
            : cancelled();
        this.registry.update(record.id, { status: got === 'timeout' ? 'failed' : 'cancelled', error: record.format === 'anthropic' ? err.toAnthropic() : err.toOpenAI() });
        end(this.sc, x, out.tally, t0, err);
        return;
      }
      this.registry.update(record.id, { status: 'completed', callback: { ...record.callback, payload: got.p } });
      end(this.sc, x, out.tally, t0, undefined, { callback: got.p });
      return;
    }
    this.registry.update(record.id, { status: 'completed', attempts, result: out.body });
    end(this.sc, x, out.tally, t0);
    this.notify(record, 'request.completed', hooks);
  }

  /** Sends the webhook (if the request has one) and records the delivery outcome in its status. */
  private notify(record: AsyncRecord, type: string, hooks: { secret?: string; attempts: number; timeoutMs: number }): void {
    const cb = record.callback;
    if (!cb || !hooks.secret) return;
    const payload: WebhookPayload = { type, timestamp: new Date().toISOString(), data: publicView(record) };
    void deliverWebhook(cb.url, payload, {
      secret: hooks.secret,
      attempts: hooks.attempts,
      timeoutMs: hooks.timeoutMs,
      signal: this.closing.signal,
      onAttempt: (r) => {
        cb.delivery = {
          status: r.ok ? 'delivered' : 'pending',
          attempts: cb.delivery.attempts + 1,
          ...(r.status !== undefined ? { lastStatus: r.status } : {}),
          ...(r.error ? { lastError: r.error } : {}),
          ...(r.ok ? { deliveredAt: new Date().toISOString() } : {}),
        };
        this.registry.update(record.id, {});
      },
    }).then((r) => {
      this.onDelivery(r.ok);
      if (!r.ok) cb.delivery = { ...cb.delivery, status: 'failed' };
      this.sc.logger[r.ok ? 'debug' : 'warn']({ requestId: record.id, type, attempts: r.attempts, status: r.status, ok: r.ok }, 'webhook delivery');
    });
  }

  /** `/airoute/v1/requests/...`; answers false for paths it does not own. */
  api = async (req: IncomingMessage, res: ServerResponse, _reqId: string, path: string): Promise<boolean> => {
    const m = PATH.exec(path);
    if (!m) return false;
    const id = decodeURIComponent(m[1]!);
    const action = m[2];
    try {
      if (action === 'events' && req.method === 'GET') {
        const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
        await serveEventStream(this.journal(), id, resumeFrom(req, query), res);
      } else if (action === undefined && req.method === 'GET') await this.status(id, res);
      else if (action === 'cancel' && req.method === 'POST') await this.cancel(id, res);
      else if (action === 'complete' && req.method === 'POST') await this.complete(id, req, res);
      else throw new AirouteError('method_not_allowed', 405, `${req.method} is not allowed on ${path}`);
    } catch (err) {
      if (!(err instanceof AirouteError)) throw err;
      sendError(res, err, 'openai');
    }
    return true;
  };

  private missing(id: string): AirouteError {
    return this.registry.wasEvicted(id) ? new AirouteError('not_found', 410, `request ${id} is past retention`) : new AirouteError('not_found', 404, `no request ${id}`);
  }

  private async status(id: string, res: ServerResponse): Promise<void> {
    const record = this.registry.get(id);
    if (record) return sendJson(res, 200, publicView(record));
    // A sync request has no async record, but its lifecycle is in the journal.
    const r = await this.journal().read(id, 0);
    if (r.status !== 'ok') throw journalError(r.status === 'gone' ? new JournalGone(id) : new JournalUnknown(id), id);
    const terminal = r.events.find((e) => TERMINAL_EVENTS.has(e.type));
    const status = !terminal ? 'running' : terminal.type === 'request.completed' ? 'completed' : terminal.type === 'request.failed' ? 'failed' : 'cancelled';
    sendJson(res, 200, { id, object: 'airoute.request', status, attempts: r.events.reduce((n, e) => Math.max(n, e.attempt), 0), sync: true });
  }

  private async cancel(id: string, res: ServerResponse): Promise<void> {
    const record = this.registry.get(id);
    if (!record) throw this.missing(id);
    if (FINISHED.has(record.status)) throw new AirouteError('invalid_request', 409, `request ${id} already ${record.status}`);
    this.registry.exchange(id)?.abort(cancelled());
    // the run loop settles the record on the abort; give it the moment it needs
    for (let i = 0; i < 100 && !FINISHED.has(record.status); i++) await new Promise((r) => setTimeout(r, 10));
    sendJson(res, 200, publicView(record));
  }

  private async complete(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record = this.registry.get(id);
    if (!record) throw this.missing(id);
    const secret = this.sc.config?.webhooks.secret;
    const raw = await readBody(req, MAX_COMPLETE_BODY);
    if (!secret || !verifySignature(secret, raw.toString('utf8'), req.headers))
      throw new AirouteError('upstream_auth', 401, 'the /complete call must be signed with the webhook secret (Standard Webhooks headers)');
    const resolve = this.awaiting.get(id);
    if (record.status !== 'awaiting_callback' || !resolve) throw new AirouteError('invalid_request', 409, `request ${id} is ${record.status}, not awaiting a callback`);
    const body = raw.length ? parseJsonObject(raw) : {};
    resolve('payload' in body ? body.payload : body);
    for (let i = 0; i < 100 && !FINISHED.has(record.status); i++) await new Promise((r) => setTimeout(r, 5));
    sendJson(res, 200, publicView(record));
  }

  close(): void {
    this.closing.abort();
    this.registry.close();
  }
}
