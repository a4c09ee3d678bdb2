// Completion webhooks, signed per the Standard Webhooks spec (the `standardwebhooks` reference
// library), sent only to allow-listed destinations (destinations.ts: exact scheme, host and port,
// path by segments, every resolved address checked, the connection pinned to the checked one),
// retried with backoff, never redirected.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import type { RuntimeConfig } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';
import { checkDestination, pinnedLookup, type CheckedDestination, type HostResolver } from './destinations.ts';

/** Refuses a callback URL at submission (400) unless the config allows it; the delivery checks again. */
export async function checkCallbackUrl(raw: string, config: RuntimeConfig, resolve: HostResolver): Promise<AirouteError | undefined> {
  if (!config.webhooks.secret)
    return new AirouteError('callback_not_allowed', 400, `callback URL ${raw.slice(0, 300)} is not allowed: webhooks.secret is not configured, so callbacks cannot be signed`, { param: 'Airoute-Callback-Url' });
  try {
    await checkDestination(raw, { allow: config.webhooks.allowed, privateNetworks: config.webhooks.privateNetworks, resolve });
    return undefined;
  } catch (err) {
    if (err instanceof AirouteError) return err;
    throw err;
  }
}

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** Signs and sends one webhook, retrying non-2xx and network failures with exponential backoff. */
export async function deliverWebhook(
  url: string,
  payload: WebhookPayload,
  opts: {
    secret: string;
    attempts: number;
    timeoutMs: number;
    /** Resolves and checks the destination before every attempt (destinations.ts). */
    destination: (url: string) => Promise<CheckedDestination>;
    baseDelayMs?: number;
    signal?: AbortSignal;
    onAttempt?: (r: DeliveryResult) => void;
  },
): Promise<DeliveryResult> {
  const wh = new Webhook(opts.secret);
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify(payload);
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    const now = new Date();
    let final = false;
    let agent: Agent | undefined;
    try {
      const to = await opts.destination(url);
      // One connection to the address just checked: a second DNS answer cannot move it.
      agent = new Agent({ connect: { lookup: pinnedLookup(to.address), timeout: opts.timeoutMs }, pipelining: 0 });
      const res = await request(to.url, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': wh.sign(id, now, body),
          'user-agent': 'airoute-sidecar',
        },
        body,
        signal: opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)]) : AbortSignal.timeout(opts.timeoutMs),
      });
      await res.body.dump();
      const status = res.statusCode; // at least 200: undici hands over no 1xx as the answer
      if (status < 300) last = { ok: true, attempts: attempt, status };
      else if (status < 400) {
        // The allow-list and the address check cover this URL only; a Location could point anywhere.
        last = { ok: false, attempts: attempt, status, error: `receiver answered ${status}: redirects are not followed` };
        final = true;
      } else last = { ok: false, attempts: attempt, status, error: `receiver answered ${status}` };
    } catch (err) {
      last = { ok: false, attempts: attempt, error: (err as Error).message };
      // The destination is refused by policy: asking again will not change that.
      final = err instanceof AirouteError && err.code === 'callback_not_allowed';
    } finally {
      // A backstop: pipelining 0 turns keep-alive off, so undici already closes the attempt's one
      // socket when the answer ends or the attempt aborts (webhooks.test.ts checks none is left).
      void agent?.destroy().catch(() => undefined);
    }
    opts.onAttempt?.(last);
    if (last.ok || final || opts.signal?.aborted) return last;
    // 4xx other than 408/429 means the receiver refuses this message; retrying will not change that.
    const status = last.status ?? 0; // 0: no answer at all (a network error), retried
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) return last;
    if (attempt < opts.attempts) await sleep(Math.min(30_000, (opts.baseDelayMs ?? 200) * 2 ** (attempt - 1)), undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined);
  }
  return last;
}

/** Verifies a Standard Webhooks signature (used for the backend's signed /complete call). */
/** The request headers a Standard Webhooks signature travels in. */
export type SignedHeaders = Record<string, string | string[] | undefined>;

export function verifySignature(secret: string, body: string, headers: SignedHeaders): boolean {
  const pick = (n: string) => {
    const v = headers[n];
    return Array.isArray(v) ? v[0] : v;
  };
  const h = { 'webhook-id': pick('webhook-id') ?? '', 'webhook-timestamp': pick('webhook-timestamp') ?? '', 'webhook-signature': pick('webhook-signature') ?? '' };
  try {
    new Webhook(secret).verify(body, h);
    return true;
  } catch {
    return false;
  }
}
