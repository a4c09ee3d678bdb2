// The app backend's signed answer to a backend-in-the-loop request: `POST
// /airoute/v1/requests/{id}/complete`. It is signed as a Standard Webhooks message (the same
// secret, headers and algorithm as the webhook it answers), and the signed body must name the
// request it completes: `{"requestId": "<id>", "payload": <any JSON>}`. The signature covers
// `webhook-id.webhook-timestamp.body`, so it covers the request id, and a message signed for
// request A never completes request B. A message is accepted once: its webhook-id is remembered
// for as long as its timestamp is accepted (the library's 5-minute tolerance), and a replay of it,
// to the same request or any other, is refused.
import { AirouteError } from '../errors.ts';
import { parseJsonObject } from '../net/body.ts';
import { verifySignature, type SignedHeaders } from './webhooks.ts';

/** How long a signed message's timestamp is accepted (standardwebhooks' tolerance), so how long its id is remembered. */
export const SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

/** Webhook ids already used, each until its timestamp would be refused anyway; bounded. */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private readonly max: number;

  constructor(max = 10_000) {
    this.max = max;
  }

  /** Records `id` as used; false if it already was. */
  claim(id: string, now = Date.now()): boolean {
    for (const [k, until] of this.seen) {
      if (until > now) break; // insertion order: the oldest come first
      this.seen.delete(k);
    }
    if (this.seen.has(id)) return false;
    // Full: the oldest id makes room for this one (only for a new id: a refused replay forgets nothing).
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(id, now + 2 * SIGNATURE_TOLERANCE_MS); // a timestamp may also lie up to the tolerance in the future
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

const unauthorized = (why: string) => new AirouteError('callback_unauthorized', 401, `the /complete call is not accepted: ${why}`);

/** Checks a /complete call for request `id`; answers the payload it carries. Throws 401 (signature, request), 400 (body) or 409 (replay). */
export function verifyCompletion(id: string, raw: string, headers: SignedHeaders, secret: string | undefined, replays: ReplayGuard): unknown {
  if (!secret || !verifySignature(secret, raw, headers)) throw unauthorized('it must be signed with the webhook secret (Standard Webhooks headers)');
  const body = parseJsonObject(raw);
  if (body.requestId !== id)
    throw unauthorized(`the signed body must carry "requestId": "${id}"${typeof body.requestId === 'string' ? `, not "${body.requestId.slice(0, 100)}"` : ''}`);
  const msgId = headers['webhook-id'];
  if (!replays.claim(String(Array.isArray(msgId) ? msgId[0] : msgId))) throw new AirouteError('callback_replayed', 409, 'this signed message (webhook-id) was already used; sign a new one');
  return body.payload ?? null;
}
