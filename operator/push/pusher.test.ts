// The pusher's own guarantees, with a scripted sidecar client: bounded concurrency, per-pod
// backoff, at most one delivered push per incarnation and version, previous-token fallback.
import pino from 'pino';
import { expect, test } from 'vitest';
import { OperatorMetrics } from '../metrics.ts';
import { Pusher, type PodTarget } from './pusher.ts';
import type { ObserveAnswer, PushAnswer, SidecarClient } from './sidecar-client.ts';

class ScriptedClient {
  active = 0;
  maxActive = 0;
  puts: { address: string; token: string }[] = [];
  answer: (address: string, token: string) => PushAnswer = () => ({ kind: 'applied', version: 1, hash: 'h' });
  async observe(): Promise<ObserveAnswer> {
    return { kind: 'running', version: 0, hash: null };
  }
  async push(address: string, token: string): Promise<PushAnswer> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.puts.push({ address, token });
    await new Promise((r) => setTimeout(r, 2));
    this.active--;
    return this.answer(address, token);
  }
}

const targets = (n: number): PodTarget[] => Array.from({ length: n }, (_, i) => ({ key: `ns/p${i}`, incarnation: `uid${i}/0`, address: `http://10.0.0.${i}:4001` }));
const pusher = (client: ScriptedClient, now = () => Date.now()) =>
  new Pusher({ client: client as unknown as SidecarClient, metrics: new OperatorMetrics(), logger: pino({ level: 'silent' }), concurrency: 8, backoff: { baseMs: 1000, maxMs: 8000 }, now });

test('never more than `concurrency` pushes in flight', async () => {
  const client = new ScriptedClient();
  await pusher(client).push(targets(100), 1, '{}', { current: 't' });
  expect(client.puts).toHaveLength(100);
  expect(client.maxActive).toBe(8);
});

test('a pod that answered a version is not pushed it again; a new incarnation is', async () => {
  const client = new ScriptedClient();
  const p = pusher(client);
  const [t] = targets(1) as [PodTarget];
  await p.push([t], 1, '{}', { current: 't' });
  await p.push([t], 1, '{}', { current: 't' });
  expect(client.puts).toHaveLength(1);
  await p.push([{ ...t, incarnation: 'uid0/1' }], 1, '{}', { current: 't' });
  expect(client.puts).toHaveLength(2);
});

test('unreachable pod: backed off per pod (others unaffected), retried after the backoff', async () => {
  let now = 0;
  const client = new ScriptedClient();
  client.answer = (address) => (address.endsWith('.0:4001') ? { kind: 'failed', message: 'ECONNREFUSED' } : { kind: 'applied', version: 1, hash: 'h' });
  const p = pusher(client, () => now);
  const ts = targets(3);
  const first = await p.push(ts, 1, '{}', { current: 't' });
  expect(first.retryAt).toBeGreaterThanOrEqual(500); // base 1000 ms with jitter in [0.5, 1]
  expect(p.observation(ts[0]!)).toEqual({ unreachable: 'ECONNREFUSED' });
  await p.push(ts, 1, '{}', { current: 't' }); // still backing off: nothing sent
  expect(client.puts).toHaveLength(3);
  now = 1000;
  await p.push(ts, 1, '{}', { current: 't' });
  expect(client.puts).toHaveLength(4); // only the failed pod, once
});

test('401 with the current token → the previous one (kubelet has not synced the rotated file yet)', async () => {
  const client = new ScriptedClient();
  client.answer = (_a, token) => (token === 'old' ? { kind: 'applied', version: 1, hash: 'h' } : { kind: 'unauthorized', status: 401, message: 'no' });
  const p = pusher(client);
  const [t] = targets(1) as [PodTarget];
  await p.push([t], 1, '{}', { current: 'new', previous: 'old' });
  expect(client.puts.map((x) => x.token)).toEqual(['new', 'old']);
  expect(p.observation(t)).toEqual({ running: { version: 1, hash: 'h' } });
});
