// One provider account serving several models, the most common production shape: a route falls
// back from a large model to a small one on the same backend. A model's failures (its 5xx, its
// silence, its broken stream) open that model's circuit only; the host's own failures (refused
// connections) open the host breaker, which blocks every model of that backend and nothing else.
// Every case names the fault, where, what the client sees, and what must never happen.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import { streamWith } from '../support/clients.ts';
import { MockProvider, sleep, resetMocks } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const TEXT = 'One account, several models: the trouble of one of them is never the trouble of the others.';
// Long enough that a busy machine never sees a cool-down pass in the middle of a case that expects the circuit open.
const COOLDOWN = 1500;
let acct: MockProvider;
let spare: MockProvider;
let sc: TestSidecar;
let closedPort: number;

async function freePortThenClose(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  acct = await new MockProvider().start();
  spare = await new MockProvider().start();
  closedPort = await freePortThenClose();
  const timeouts = { connectMs: 500, firstTokenMs: 400, idleMs: 300, totalMs: 20000 };
  const retry = { attempts: 2, backoff: { baseMs: 1, maxMs: 5 } };
  sc = await testSidecar({
    backends: [
      { name: 'acct', type: 'openai-compatible', baseURL: `${acct.url}/v1`, circuit: { consecutiveFailures: 2, cooldownMs: COOLDOWN } },
      { name: 'gone', type: 'openai-compatible', baseURL: `http://127.0.0.1:${closedPort}/v1`, circuit: { consecutiveFailures: 100, host: { consecutiveFailures: 3, cooldownMs: 60_000 } } },
      { name: 'spare', type: 'anthropic', baseURL: spare.url },
    ],
    routes: [
      // large falls back to small on the same account
      { model: 'chat', backends: [{ backend: 'acct', model: 'large' }, { backend: 'acct', model: 'small' }], retry, timeouts, resume: 'prefill' },
      { model: 'cheap', backends: [{ backend: 'acct', model: 'small' }], retry, timeouts },
      { model: 'other', backends: [{ backend: 'acct', model: 'other' }], retry, timeouts },
      // two models on a host that refuses connections, then another provider
      { model: 'gone-a', backends: [{ backend: 'gone', model: 'a' }, { backend: 'spare', model: 'spare-a' }], retry: { attempts: 1 }, timeouts },
      { model: 'gone-b', backends: [{ backend: 'gone', model: 'b' }, { backend: 'spare', model: 'spare-b' }], retry: { attempts: 1 }, timeouts },
    ],
  });
});
afterAll(async () => {
  await sc?.close();
  await acct?.stop();
  await spare?.stop();
});
beforeEach(async () => {
  resetMocks({ text: TEXT }, acct, spare);
  // Every case starts with closed circuits on the shared account: wait out any cool-down a previous case left.
  for (let i = 0; i < 50 && sc.sidecar.resilience.notClosed().some((c) => c.backend === 'acct'); i++) {
    await sleep(COOLDOWN / 5);
    for (const model of ['large', 'small', 'other']) await streamWith('openai', sc.dataURL, { model: model === 'large' ? 'chat' : model === 'small' ? 'cheap' : 'other' });
  }
  resetMocks({ text: TEXT }, acct, spare);
});

async function events(t: { headers?: Headers }): Promise<LifecycleEvent[]> {
  const id = t.headers!.get('x-airoute-request-id')!;
  const text = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/events`)).text();
  return text
    .split('\n\n')
    .map((b) => /^data: (.*)$/m.exec(b)?.[1])
    .filter((d): d is string => !!d)
    .map((d) => JSON.parse(d) as LifecycleEvent);
}

const metric = async (name: string, labels: Record<string, string>): Promise<number | undefined> => {
  const text = await (await fetch(`${sc.adminURL}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').at(-1)) : undefined;
};

describe('a model fails on a shared backend', () => {
  test('the large model answers 503 to everything -> its circuit opens; from then on the route goes straight to the small model on the same account, no attempt at the large one; a healthy model of the account answers at once; never a 503 to a client', async () => {
    acct.down.set('large', { status: 503 });
    // 2 attempts (503, 503) open the large model's circuit; the small model answers the first request.
    const first = await streamWith('openai', sc.dataURL, { model: 'chat' });
    expect(first.completed).toBe(true);
    expect(first.model).toBe('small');
    expect(acct.receivedFor('large')).toHaveLength(2);
    const large = await metric('airoute_circuit_state', { backend: 'acct', model: 'large' });
    expect(large).toBe(2);
    expect(await metric('airoute_circuit_state', { backend: 'acct', model: 'small' })).toBe(0);
    expect(await metric('airoute_host_circuit_state', { backend: 'acct' })).toBe(0);

    // While it is open: straight to the fallback, no wasted attempt.
    for (let i = 0; i < 3; i++) {
      const t = await streamWith('openai', sc.dataURL, { model: 'chat' });
      expect(t.completed).toBe(true);
      expect(t.model).toBe('small');
      expect(t.headers!.get('x-airoute-attempts')).toBe('1');
      const ev = await events(t);
      expect(ev.filter((e) => e.type === 'attempt.started')).toHaveLength(1);
      expect(ev.find((e) => e.type === 'fallback')?.data).toEqual({ from: 'acct', to: 'acct', fromModel: 'large', toModel: 'small', reason: 'circuit_open', circuit: 'deployment' });
    }
    expect(acct.receivedFor('large')).toHaveLength(2);
    // No grudge against the account: another model on it answers at once.
    const other = await streamWith('openai', sc.dataURL, { model: 'other' });
    expect(other.completed).toBe(true);
    expect(other.headers!.get('x-airoute-attempts')).toBe('1');

    const ready = (await (await fetch(`${sc.adminURL}/readyz`)).json()) as { status: string; circuits: unknown[] };
    expect(ready.status).toBe('ready');
    expect(ready.circuits).toEqual([{ level: 'deployment', backend: 'acct', model: 'large', state: 'open' }]);
  });

  test('the large model is silent (no response headers) -> one first-token timeout, then the small model on the same account answers; a healthy request to another model right after succeeds at once', async () => {
    acct.modelFaults.set('large', [{ hang: 'before-headers' }]);
    const t = await streamWith('openai', sc.dataURL, { model: 'chat' });
    expect(t.completed).toBe(true);
    expect(t.text).toBe(TEXT);
    expect(t.model).toBe('small');
    expect(acct.receivedFor('large')).toHaveLength(1); // never waited on twice
    const started = Date.now();
    const other = await streamWith('openai', sc.dataURL, { model: 'other' });
    expect(other.completed).toBe(true);
    expect(Date.now() - started).toBeLessThan(400); // not a timeout long: no wait on anything
  });

  test('a malformed chunk mid-stream from the large model -> resumed from the checkpoint by prefill; the client gets the whole text once, and the malformed bytes never reach it', async () => {
    acct.modelFaults.set('large', [{ malformedAfter: 4 }]);
    const res = await fetch(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const raw = await res.text();
    expect(raw).not.toContain('BROKEN');
    const text = raw
      .split('\n\n')
      .map((b) => /^data: (\{.*)$/m.exec(b)?.[1])
      .filter((d): d is string => !!d)
      .map((d) => (JSON.parse(d) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '')
      .join('');
    expect(text).toBe(TEXT);
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const continuation = acct.received[1]!;
    expect(continuation.body.model).toBe('large'); // resumed on the same deployment: one stream fault does not open its circuit
    expect((continuation.body.messages as { role: string }[]).at(-1)!.role).toBe('assistant');
  });

  test('flapping: the large model is down for a while, then recovers -> during the outage every request is answered (by the small model); after the cool-down one probe reaches the large model, and traffic returns to it', async () => {
    acct.down.set('large', { status: 503 });
    const during = [];
    for (let i = 0; i < 6; i++) during.push(await streamWith('openai', sc.dataURL, { model: 'chat' }));
    expect(during.every((t) => t.completed && t.text === TEXT)).toBe(true);
    expect(during.map((t) => t.model)).toEqual(Array(6).fill('small'));
    expect(acct.receivedFor('large')).toHaveLength(2); // the two attempts that opened it, nothing while open
    acct.down.delete('large'); // recovered
    await sleep(COOLDOWN + 50);
    const probes = await Promise.all([0, 1, 2].map(() => streamWith('openai', sc.dataURL, { model: 'chat' })));
    expect(probes.every((t) => t.completed)).toBe(true);
    expect(probes.filter((t) => t.model === 'large')).toHaveLength(1); // exactly one half-open probe
    expect(acct.receivedFor('large')).toHaveLength(3);
    const after = await streamWith('openai', sc.dataURL, { model: 'chat' });
    expect(after.model).toBe('large');
  });
});

describe('the host fails', () => {
  test('the host refuses connections for two models -> the host breaker opens after 3 refusals; then neither model is tried (no connection attempt) and the other provider answers; the models\' own circuits stay closed; the shared account is untouched', async () => {
    for (const model of ['gone-a', 'gone-b', 'gone-a']) {
      const t = await streamWith('openai', sc.dataURL, { model });
      expect(t.completed).toBe(true);
      expect(t.headers!.get('x-airoute-attempts')).toBe('2');
    }
    expect(await metric('airoute_host_circuit_state', { backend: 'gone' })).toBe(2);
    for (const model of ['a', 'b']) expect(await metric('airoute_circuit_state', { backend: 'gone', model })).toBe(0);
    for (const model of ['gone-a', 'gone-b']) {
      const t = await streamWith('openai', sc.dataURL, { model });
      expect(t.completed).toBe(true);
      expect(t.model).toBe(model === 'gone-a' ? 'spare-a' : 'spare-b');
      const ev = await events(t);
      expect(ev.filter((e) => e.type === 'attempt.started').map((e) => e.data.backend)).toEqual(['spare']);
      expect(ev.find((e) => e.type === 'fallback')?.data).toMatchObject({ from: 'gone', to: 'spare', reason: 'circuit_open', circuit: 'host' });
    }
    const ready = (await (await fetch(`${sc.adminURL}/readyz`)).json()) as { circuits: unknown[] };
    expect(ready.circuits).toContainEqual({ level: 'host', backend: 'gone', state: 'open' });
    expect(await metric('airoute_host_circuit_state', { backend: 'acct' })).toBe(0);
    expect((await streamWith('openai', sc.dataURL, { model: 'other' })).completed).toBe(true);
  });
});
