// One webhook delivery, against a real receiver on a real socket: what is signed and sent, which
// answers are retried, which end the delivery, and that nothing (connection, wait) outlives it.
// The backoff is set far longer than any test may take wherever no retry is expected, so a retry
// or a wait that should not happen shows as a test that never ends.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { RuntimeConfig } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';
import { networkList, parseAllowEntry, type CheckedDestination } from './destinations.ts';
import { checkCallbackUrl, deliverWebhook, verifySignature, type DeliveryResult, type WebhookPayload } from './webhooks.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const NEVER = 600_000; // a backoff no test waits out

interface Received {
  at: number;
  headers: IncomingMessage['headers'];
  method: string;
  body: string;
}

/** The app's receiver: answers each delivery with the next scripted status (then 200); 'hang' never answers. */
class Receiver {
  readonly got: Received[] = [];
  script: (number | 'hang')[] = [];
  server!: Server;
  url = '';
  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += String(c);
      this.got.push({ at: performance.now(), headers: req.headers, method: req.method ?? '', body });
      const next = this.script.shift() ?? 200;
      if (next === 'hang') return;
      res.writeHead(next, next >= 300 && next < 400 ? { location: 'http://127.0.0.1:1/elsewhere' } : {});
      res.end('receiver body');
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/done`;
    return this;
  }
  async openConnections(): Promise<number> {
    return new Promise((resolve, reject) => this.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let receiver: Receiver;
beforeAll(async () => {
  receiver = await new Receiver().start();
});
afterAll(async () => {
  await receiver?.stop();
});
beforeEach(() => {
  receiver.server.closeAllConnections();
  receiver.got.length = 0;
  receiver.script = [];
});

const payload: WebhookPayload = { type: 'request.completed', timestamp: '2025-01-01T00:00:00.000Z', data: { id: 'req-1', status: 'completed' } };
const local = async (url: string): Promise<CheckedDestination> => ({ url: new URL(url), address: { address: '127.0.0.1', family: 4 } });

function deliver(over: Partial<Parameters<typeof deliverWebhook>[2]> = {}, url = receiver.url): Promise<DeliveryResult> {
  return deliverWebhook(url, payload, { secret: SECRET, attempts: 3, timeoutMs: 5_000, destination: local, baseDelayMs: 1, ...over });
}

describe('what is sent', () => {
  test('a JSON POST of the payload, signed per Standard Webhooks: it verifies with the standardwebhooks library and fails with a changed body', async () => {
    const r = await deliver();
    expect(r).toEqual({ ok: true, attempts: 1, status: 200 });
    const [got] = receiver.got;
    expect(got!.method).toBe('POST');
    expect(got!.headers['content-type']).toBe('application/json');
    expect(got!.headers['user-agent']).toBe('airoute-sidecar');
    expect(JSON.parse(got!.body)).toEqual(payload);
    expect(got!.headers['webhook-id']).toMatch(/^msg_[0-9a-f-]{36}$/);
    expect(Math.abs(Number(got!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    const headers = got!.headers as Record<string, string>;
    expect(new Webhook(SECRET).verify(got!.body, headers)).toEqual(payload);
    expect(() => new Webhook(SECRET).verify(got!.body.replace('req-1', 'req-2'), headers)).toThrow();
    expect(verifySignature(SECRET, got!.body, headers)).toBe(true);
    expect(verifySignature(SECRET, `${got!.body} `, headers)).toBe(false);
  });

  test('a retry sends the same message again: same id, same body, a fresh valid signature', async () => {
    receiver.script = [503];
    expect(await deliver()).toMatchObject({ ok: true, attempts: 2 });
    const [first, second] = receiver.got;
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.body).toBe(first!.body);
    expect(new Webhook(SECRET).verify(second!.body, second!.headers as Record<string, string>)).toEqual(payload);
  });

  test('verifySignature reads the first value of a header given twice, and refuses a message with a header missing', async () => {
    await deliver();
    const h = receiver.got[0]!.headers as Record<string, string>;
    const body = receiver.got[0]!.body;
    expect(verifySignature(SECRET, body, { ...h, 'webhook-signature': [h['webhook-signature']!, 'v1,bogus'] })).toBe(true);
    expect(verifySignature(SECRET, body, { ...h, 'webhook-id': ['msg_other', h['webhook-id']!] })).toBe(false);
    for (const missing of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) expect(verifySignature(SECRET, body, { ...h, [missing]: undefined }), missing).toBe(false);
  });
});

describe('which answers are retried', () => {
  test.each([
    { answers: [204], want: { ok: true, attempts: 1, status: 204 } },
    { answers: [299], want: { ok: true, attempts: 1, status: 299 } },
    { answers: [408, 200], want: { ok: true, attempts: 2, status: 200 } },
    { answers: [429, 200], want: { ok: true, attempts: 2, status: 200 } },
    { answers: [500, 502, 200], want: { ok: true, attempts: 3, status: 200 } },
  ])('$answers → $want', async ({ answers, want }) => {
    receiver.script = [...answers];
    expect(await deliver()).toEqual(want);
    expect(receiver.got).toHaveLength(answers.length);
  });

  test('a receiver failing every attempt: as many attempts as configured, then the last answer, and no wait after the last one', async () => {
    receiver.script = [500, 500, 503];
    const seen: DeliveryResult[] = [];
    const r = await deliver({ onAttempt: (a) => seen.push(a) });
    expect(r).toEqual({ ok: false, attempts: 3, status: 503, error: 'receiver answered 503' });
    expect(seen.map((a) => [a.attempts, a.status])).toEqual([[1, 500], [2, 500], [3, 503]]);
    receiver.script = [500];
    expect(await deliver({ attempts: 1, baseDelayMs: NEVER })).toEqual({ ok: false, attempts: 1, status: 500, error: 'receiver answered 500' });
  });

  test('the wait before a retry doubles after each failed attempt', async () => {
    receiver.script = [500, 500, 200];
    expect(await deliver({ baseDelayMs: 80 })).toMatchObject({ ok: true, attempts: 3 });
    const [a, b, c] = receiver.got.map((g) => g.at);
    expect(b! - a!).toBeGreaterThanOrEqual(75);
    expect(c! - b!).toBeGreaterThanOrEqual(155);
  });

  test.each([400, 401, 404, 499])('%i: the receiver refuses this message; it is not sent again', async (status) => {
    receiver.script = [status];
    expect(await deliver({ baseDelayMs: NEVER })).toEqual({ ok: false, attempts: 1, status, error: `receiver answered ${status}` });
    expect(receiver.got).toHaveLength(1);
  });

  test.each([300, 307, 399])('%i: a redirect is neither followed nor retried', async (status) => {
    receiver.script = [status];
    expect(await deliver({ baseDelayMs: NEVER })).toEqual({ ok: false, attempts: 1, status, error: `receiver answered ${status}: redirects are not followed` });
    expect(receiver.got).toHaveLength(1);
  });

  test('with no attempt allowed nothing is sent, and the delivery has failed', async () => {
    expect(await deliver({ attempts: 0 })).toEqual({ ok: false, attempts: 0 });
    expect(receiver.got).toHaveLength(0);
  });

  test('a receiver that cannot be reached is retried, each attempt naming the network error', async () => {
    const closed = await new Receiver().start();
    await closed.stop();
    const seen: DeliveryResult[] = [];
    const r = await deliver({ attempts: 2, onAttempt: (a) => seen.push(a) }, closed.url);
    expect(r).toMatchObject({ ok: false, attempts: 2 });
    expect(r.status).toBeUndefined();
    expect(r.error).toMatch(/ECONNREFUSED|connect/i);
    expect(seen).toHaveLength(2);
  });

  test('a destination refused by policy ends the delivery at once; a destination that fails otherwise is retried', async () => {
    const refused = async (): Promise<CheckedDestination> => {
      throw new AirouteError('callback_not_allowed', 400, 'callback URL x is not allowed: y');
    };
    expect(await deliver({ destination: refused, baseDelayMs: NEVER })).toEqual({ ok: false, attempts: 1, error: 'callback URL x is not allowed: y' });
    let calls = 0;
    const flaky = async (url: string): Promise<CheckedDestination> => {
      if (++calls === 1) throw new AirouteError('unavailable', 503, 'resolver busy');
      return local(url);
    };
    expect(await deliver({ destination: flaky })).toEqual({ ok: true, attempts: 2, status: 200 });
    expect(receiver.got).toHaveLength(1);
  });
});

describe('time limits, cancellation and leaks', () => {
  test.each([{ withSignal: false }, { withSignal: true }])('a receiver that never answers: each attempt ends at timeoutMs and is retried (caller signal given: $withSignal)', async ({ withSignal }) => {
    receiver.script = ['hang', 'hang'];
    const r = await deliver({ attempts: 2, timeoutMs: 150, ...(withSignal ? { signal: new AbortController().signal } : {}) });
    expect(r).toMatchObject({ ok: false, attempts: 2 });
    expect(r.error).toMatch(/timeout|abort/i);
    expect(receiver.got).toHaveLength(2);
  });

  test('the caller aborting mid-attempt ends the delivery after that attempt', async () => {
    receiver.script = ['hang'];
    const stop = new AbortController();
    const pending = deliver({ signal: stop.signal, baseDelayMs: NEVER });
    while (receiver.got.length === 0) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    expect(await pending).toMatchObject({ ok: false, attempts: 1 });
    expect(receiver.got).toHaveLength(1);
  });

  test('the caller aborting during the backoff ends the wait: no further message reaches the receiver', async () => {
    receiver.script = [500];
    const stop = new AbortController();
    const pending = deliver({ signal: stop.signal, baseDelayMs: NEVER, onAttempt: () => setImmediate(() => stop.abort()) });
    expect((await pending).ok).toBe(false);
    expect(receiver.got).toHaveLength(1);
  });

  test('no connection to the receiver outlives an attempt', async () => {
    receiver.script = [500, 200];
    expect(await deliver()).toMatchObject({ ok: true, attempts: 2 });
    let open = await receiver.openConnections();
    for (let i = 0; i < 100 && open > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      open = await receiver.openConnections();
    }
    expect(open).toBe(0);
  });
});

describe('checkCallbackUrl', () => {
  const config = (secret: string | undefined) =>
    ({ webhooks: { secret, allowed: [parseAllowEntry('http://127.0.0.1:3510/')!], privateNetworks: networkList(['127.0.0.1']) } }) as unknown as RuntimeConfig;
  const noDns = async () => {
    throw new Error('no lookup expected');
  };

  test('without a webhook secret every callback is refused: it could not be signed', async () => {
    const err = await checkCallbackUrl('http://127.0.0.1:3510/x', config(undefined), noDns);
    expect(err).toMatchObject({ code: 'callback_not_allowed', status: 400, details: { param: 'Airoute-Callback-Url' } });
    expect(err!.message).toBe('callback URL http://127.0.0.1:3510/x is not allowed: webhooks.secret is not configured, so callbacks cannot be signed');
  });

  test('a long refused URL is quoted up to its first 300 characters', async () => {
    const long = `http://127.0.0.1:3510/${'x'.repeat(400)}`;
    expect((await checkCallbackUrl(long, config(undefined), noDns))?.message).toBe(`callback URL ${long.slice(0, 300)} is not allowed: webhooks.secret is not configured, so callbacks cannot be signed`);
  });

  test('with a secret: an allowed URL passes, another is refused naming why', async () => {
    expect(await checkCallbackUrl('http://127.0.0.1:3510/x', config(SECRET), noDns)).toBeUndefined();
    expect((await checkCallbackUrl('http://127.0.0.1:3511/x', config(SECRET), noDns))?.message).toContain('matches no entry of webhooks.allow');
  });
});
