// Webhook destinations cannot escape the allow-list. Each trick that used to work against the old
// `href.startsWith(entry)` match, and DNS rebinding against a check that resolved the host once to
// look and again to connect, is tried here; the app's receivers and a stand-in internal service
// listen on real sockets, and a scripted resolver plays the DNS server.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { ResolvedAddress } from '../../sidecar/requests/destinations.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { chatCompletion, json, ScriptedUpstream, sleep } from './upstream.ts';

class Receiver {
  readonly got: { path: string; headers: IncomingMessage['headers'] }[] = [];
  answer: (path: string) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 });
  server!: Server;
  port = 0;
  async start(host: string, port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      req.resume();
      this.got.push({ path: req.url ?? '', headers: req.headers });
      const a = this.answer(req.url ?? '');
      res.writeHead(a.status, a.headers);
      res.end();
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A DNS server under the test's control: per host, the answers of successive lookups (the last one repeats). */
class ScriptedDns {
  readonly calls: string[] = [];
  readonly answers = new Map<string, string[][]>();
  resolve = async (host: string): Promise<ResolvedAddress[]> => {
    this.calls.push(host);
    const queue = this.answers.get(host);
    if (!queue?.length) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    const next = queue.length > 1 ? queue.shift()! : queue[0]!;
    return next.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

let up: ScriptedUpstream;
let sc: TestSidecar;
const dns = new ScriptedDns();
/** The app's own receiver, on a private address the config opens (127.0.0.2). */
let app: Receiver;
/** An internal service on 127.0.0.1, same port: what an attacker would like the sidecar to call. */
let internal: Receiver;

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  up.fallback = (res) => json(res, 200, chatCompletion('the result'));
  app = await new Receiver().start('127.0.0.2');
  internal = await new Receiver().start('127.0.0.1', app.port);
  sc = await testSidecar(
    {
      backends: [{ name: 'up', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: 'sk-webhooks-0123456789' } }],
      routes: [{ model: 'chat', backends: [{ backend: 'up' }] }],
      webhooks: {
        allow: ['https://hooks.example.com', `http://127.0.0.2:${app.port}`, `http://127.0.0.1:${app.port}/`, `http://hooks.app.test:${app.port}/hooks`, 'http://metadata.app.test/'],
        privateNetworks: ['127.0.0.2/32'],
        secret: { value: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
        attempts: 3,
        timeoutMs: 2000,
      },
    },
    { resolveHost: dns.resolve },
  );
});
afterAll(async () => {
  await sc?.close();
  await up?.stop();
  await app?.stop();
  await internal?.stop();
});
beforeEach(() => {
  dns.calls.length = 0;
  dns.answers.clear();
  app.got.length = 0;
  internal.got.length = 0;
  app.answer = () => ({ status: 200 });
});

const submit = (callbackUrl: string) =>
  fetch(`${sc.dataURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'respond-async', 'airoute-callback-url': callbackUrl },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
  });

async function delivery(id: string): Promise<{ status: string; attempts: number; lastStatus?: number; lastError?: string }> {
  for (let i = 0; i < 200; i++) {
    const view = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { callback?: { delivery: { status: string; attempts: number } } };
    const d = view.callback?.delivery;
    if (d && d.status !== 'pending') return d;
    await sleep(20);
  }
  throw new Error('the delivery did not finish');
}

describe('the allow-list compares scheme, host and port exactly and the path by whole segments', () => {
  test.each([
    ['a host that merely starts with the allowed one', 'https://hooks.example.com.evil.com/cb'],
    ['credentials that make the allowed host a user name', 'https://hooks.example.com@evil.com/cb'],
    ['another scheme', 'http://hooks.example.com/cb'],
    ['an allowed port with a digit appended (3510 → 35100)', 'PORT0'],
    ['a path that merely starts with the allowed one (/hooks → /hooksevil)', 'http://hooks.app.test:APP/hooksevil'],
    ['a dot-segment that leaves the allowed path', 'http://hooks.app.test:APP/hooks/../admin'],
    ['an encoded slash that hides a segment', 'http://hooks.app.test:APP/hooks%2F..%2Fadmin'],
  ])('%s → 400 callback_not_allowed, nothing resolved, nothing runs', async (_name, raw) => {
    const url = raw === 'PORT0' ? `http://127.0.0.2:${app.port}0/` : raw.replace('APP', String(app.port));
    const r = await submit(url);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { code: 'callback_not_allowed', param: 'Airoute-Callback-Url' } });
    expect(dns.calls).toEqual([]);
  });

  test('a URL under an allowed path, with any case and a trailing dot in the host, is delivered', async () => {
    dns.answers.set('hooks.app.test', [['127.0.0.2']]);
    const r = await submit(`http://HOOKS.app.test.:${app.port}/hooks/done?x=1`);
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    expect(await delivery(id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(app.got.map((g) => g.path)).toEqual(['/hooks/done?x=1']);
    expect(internal.got).toEqual([]);
  });
});

describe('the private-address policy applies to every destination, named or not', () => {
  test('an allow-listed name that resolves to link-local metadata (169.254.169.254) → 400, though the name matches', async () => {
    dns.answers.set('metadata.app.test', [['169.254.169.254']]);
    const r = await submit('http://metadata.app.test/latest/meta-data/');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain('169.254.169.254');
  });

  test('a name with one public and one private address → 400 (every address is checked, not the first)', async () => {
    dns.answers.set('metadata.app.test', [['203.0.113.10', '10.0.0.7']]);
    expect((await submit('http://metadata.app.test/')).status).toBe(400);
    dns.answers.set('metadata.app.test', [['::ffff:127.0.0.1']]);
    expect((await submit('http://metadata.app.test/')).status).toBe(400);
  });

  test('an allow-listed loopback address outside privateNetworks → 400 (being named is not enough); inside it → delivered', async () => {
    const outside = await submit(`http://127.0.0.1:${app.port}/x`);
    expect(outside.status).toBe(400);
    expect(((await outside.json()) as { error: { message: string } }).error.message).toContain('webhooks.privateNetworks');
    const inside = await submit(`http://127.0.0.2:${app.port}/x`);
    expect(inside.status).toBe(202);
    expect(await delivery(((await inside.json()) as { id: string }).id)).toMatchObject({ status: 'delivered' });
    expect(app.got.map((g) => g.path)).toEqual(['/x']);
    expect(internal.got).toEqual([]);
  });
});

describe('DNS rebinding: resolved once, connected to the checked address', () => {
  test('the name pointed at the app at submission and at 127.0.0.1 at delivery → the delivery is refused; the internal service gets nothing', async () => {
    dns.answers.set('hooks.app.test', [['127.0.0.2'], ['127.0.0.1']]);
    const r = await submit(`http://hooks.app.test:${app.port}/hooks/done`);
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    const d = await delivery(id);
    expect(d).toMatchObject({ status: 'failed', attempts: 1 });
    expect(d.lastError).toContain('127.0.0.1');
    expect(internal.got).toEqual([]);
    expect(app.got).toEqual([]);
  });

  test('the name flips to 127.0.0.1 right after the delivery\'s own check → the connection still goes to the checked address; one lookup per check, none at connect', async () => {
    dns.answers.set('hooks.app.test', [['127.0.0.2'], ['127.0.0.2'], ['127.0.0.1']]);
    const r = await submit(`http://hooks.app.test:${app.port}/hooks/done`);
    const { id } = (await r.json()) as { id: string };
    expect(await delivery(id)).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(app.got).toHaveLength(1);
    expect(internal.got).toEqual([]);
    expect(dns.calls).toEqual(['hooks.app.test', 'hooks.app.test']);
  });
});

test('a receiver that redirects (307 to the internal service) is not followed and not retried: the delivery fails, naming why', async () => {
  app.answer = () => ({ status: 307, headers: { location: `http://127.0.0.1:${internal.port}/admin` } });
  const r = await submit(`http://127.0.0.2:${app.port}/hooks/done`);
  const { id } = (await r.json()) as { id: string };
  const d = await delivery(id);
  expect(d).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 307 });
  expect(d.lastError).toContain('redirects are not followed');
  expect(internal.got).toEqual([]);
});
