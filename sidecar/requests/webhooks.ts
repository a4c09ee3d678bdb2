// Completion webhooks, signed per the Standard Webhooks spec (the `standardwebhooks` reference
// library), sent only to allow-listed URLs, retried with backoff. Private, loopback and
// link-local destinations are refused unless an allow-list entry names that very host, so a
// request cannot turn the sidecar into a probe of the pod's network (SSRF).
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import type { RuntimeConfig } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';

const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::1', 128],
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

function isPrivate(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const notAllowed = (url: string, why: string) => new AirouteError('callback_not_allowed', 400, `callback URL ${url} is not allowed: ${why}`, { param: 'Airoute-Callback-Url' });

/** Refuses a callback URL unless the config allows it; resolves the host to check where it points. */
export async function checkCallbackUrl(raw: string, config: RuntimeConfig): Promise<AirouteError | undefined> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return notAllowed(raw, 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return notAllowed(raw, 'only http(s) is allowed');
  if (url.username || url.password) return notAllowed(raw, 'credentials in the URL are not allowed');
  if (!config.webhooks.secret) return notAllowed(raw, 'webhooks.secret is not configured, so callbacks cannot be signed');
  const entry = config.webhooks.allow.find((prefix) => url.href.startsWith(prefix));
  if (!entry) return notAllowed(raw, 'it matches no entry of webhooks.allow');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const explicit = new URL(entry).hostname.replace(/^\[|\]$/g, '') === host;
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch {
    return notAllowed(raw, `its host ${host} does not resolve`);
  }
  if (!explicit && addresses.some(isPrivate)) return notAllowed(raw, `${host} is a private, loopback or link-local address; allow-list that host explicitly to use it`);
  return undefined;
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
  opts: { secret: string; attempts: number; timeoutMs: number; baseDelayMs?: number; signal?: AbortSignal; onAttempt?: (r: DeliveryResult) => void },
): Promise<DeliveryResult> {
  const wh = new Webhook(opts.secret);
  const id = `msg_${randomUUID()}`;
  const body = JSON.stringify(payload);
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    const now = new Date();
    try {
      const res = await request(url, {
        method: 'POST',
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
      last = res.statusCode >= 200 && res.statusCode < 300 ? { ok: true, attempts: attempt, status: res.statusCode } : { ok: false, attempts: attempt, status: res.statusCode, error: `receiver answered ${res.statusCode}` };
    } catch (err) {
      last = { ok: false, attempts: attempt, error: (err as Error).message };
    }
    opts.onAttempt?.(last);
    if (last.ok || opts.signal?.aborted) return last;
    // 4xx other than 408/429 means the receiver refuses this message; retrying will not change that.
    if (last.status !== undefined && last.status >= 400 && last.status < 500 && last.status !== 408 && last.status !== 429) return last;
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
