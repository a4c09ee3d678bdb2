// The demo page's webhook receiver, in the sidecar's own process: it checks each completion
// webhook's Standard Webhooks signature with the sidecar's webhook secret, as an app's backend
// would, answers 204 (or 401 when the signature does not hold), and keeps the last few so the
// page can show what arrived and whether it verified. Mounted only with --demo-ui.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';

/** Webhooks kept for the page to fetch (the oldest goes first). */
export const MAX_KEPT = 64;
/** Page requests waiting for a webhook at once; past it, 429. */
export const MAX_WAITERS = 64;
/** A webhook body larger than this is refused (a demo answer is a few KiB). */
export const MAX_BODY = 1024 * 1024;

export interface ReceivedWebhook {
  /** The request the webhook is about (its payload's `data.id`). */
  requestId: string;
  type: string;
  receivedAt: string;
  headers: { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string };
  verified: boolean;
  /** Why the signature did not verify. */
  reason?: string;
  payload: unknown;
}

const header = (req: IncomingMessage, name: string): string => {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
};

const reply = (res: ServerResponse, status: number, body?: unknown): void => {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) }).end(text);
};

export class WebhookReceiver {
  private readonly kept = new Map<string, ReceivedWebhook>();
  private readonly waiters = new Map<string, Set<(w: ReceivedWebhook) => void>>();
  private waiting = 0;
  private readonly secret: () => string | undefined;

  /** `secret` is read per webhook: it is the running config's, which a new config may change. */
  constructor(secret: () => string | undefined) {
    this.secret = secret;
  }

  /** POST: verify, keep, answer. */
  async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) return reply(res.setHeader('connection', 'close'), 413, { error: { message: `webhook body over ${MAX_BODY} bytes` } });
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = { 'webhook-id': header(req, 'webhook-id'), 'webhook-timestamp': header(req, 'webhook-timestamp'), 'webhook-signature': header(req, 'webhook-signature') };
    const secret = this.secret();
    let verified = false;
    let reason: string | undefined;
    if (!secret) reason = 'this sidecar has no webhooks.secret';
    else
      try {
        new Webhook(secret).verify(body, headers);
        verified = true;
      } catch (err) {
        reason = (err as Error).message;
      }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return reply(res, 400, { error: { message: 'the webhook body is not JSON' } });
    }
    const p = payload as { type?: unknown; data?: { id?: unknown } };
    const requestId = typeof p.data?.id === 'string' ? p.data.id : undefined;
    if (!requestId) return reply(res, 400, { error: { message: 'the webhook names no request (data.id)' } });
    const got: ReceivedWebhook = {
      requestId,
      type: typeof p.type === 'string' ? p.type : 'unknown',
      receivedAt: new Date().toISOString(),
      headers,
      verified,
      ...(reason !== undefined ? { reason } : {}),
      payload,
    };
    // A forged webhook never replaces one that verified.
    if (verified || !this.kept.get(requestId)?.verified) this.keep(got);
    reply(res, verified ? 204 : 401, verified ? undefined : { error: { message: `signature not verified: ${reason}` } });
  }

  private keep(w: ReceivedWebhook): void {
    this.kept.delete(w.requestId);
    this.kept.set(w.requestId, w);
    if (this.kept.size > MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
    for (const wake of this.waiters.get(w.requestId) ?? []) wake(w);
  }

  /** The webhook for a request: at once if it came, else when it comes, else undefined after `ms`. */
  async wait(requestId: string, ms: number, signal: AbortSignal): Promise<ReceivedWebhook | undefined | 'busy'> {
    const kept = this.kept.get(requestId);
    if (kept) return kept;
    if (this.waiting >= MAX_WAITERS) return 'busy';
    this.waiting++;
    let set = this.waiters.get(requestId);
    if (!set) this.waiters.set(requestId, (set = new Set()));
    const waiters = set;
    let wake!: (w: ReceivedWebhook | undefined) => void;
    const arrived = new Promise<ReceivedWebhook | undefined>((resolve) => (wake = resolve));
    const timer = setTimeout(() => wake(undefined), ms);
    const stop = () => wake(undefined);
    signal.addEventListener('abort', stop, { once: true });
    waiters.add(wake);
    try {
      return await arrived;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      waiters.delete(wake);
      if (waiters.size === 0) this.waiters.delete(requestId);
      this.waiting--;
    }
  }

  /** GET: the webhook of one request as JSON, waiting up to `ms` for it. */
  async serve(res: ServerResponse, requestId: string, ms: number): Promise<void> {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const got = await this.wait(requestId, ms, ac.signal);
    if (res.destroyed) return;
    if (got === 'busy') return reply(res, 429, { error: { message: 'too many pages waiting for webhooks' } });
    if (!got) return reply(res, 404, { error: { message: `no webhook for request ${requestId} yet` } });
    reply(res, 200, got);
  }
}
