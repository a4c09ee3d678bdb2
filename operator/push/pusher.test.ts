// The pusher's own guarantees, with a scripted sidecar client: bounded concurrency, per-pod
// backoff, at most one delivered push per incarnation and version, and nothing sent to a sidecar
// that has not proved which pod it is.
import pino from 'pino';
import { expect, test } from 'vitest';
import { OperatorMetrics } from '../metrics.ts';
import { Pusher, type PodTarget } from './pusher.ts';
import type { ExpectedPod, ObserveAnswer, PushAnswer, SidecarClient, VerifyAnswer } from './sidecar-client.ts';

class ScriptedClient {
  active = 0;
  maxActive = 0;
  puts: { address: string; pin: string }[] = [];
  verifies: string[] = [];
  answer: (address: string) => PushAnswer = () => ({ kind: 'applied', version: 1, hash: 'h' });
  identity: (address: string, pod: ExpectedPod) => VerifyAnswer = (address) => ({ kind: 'verified', pin: `cert-of-${address}` });
  async verify(address: string, pod: ExpectedPod): Promise<VerifyAnswer> {
    this.verifies.push(address);
    return this.identity(address, pod);
  }
  async observe(): Promise<ObserveAnswer> {
    return { kind: 'running', version: 0, hash: null };
  }
  async push(address: string, pin: string): Promise<PushAnswer> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    this.puts.push({ address, pin });
    await new Promise((r) => setTimeout(r, 2));
    this.active--;
    return this.answer(address);
  }
}

const targets = (n: number): PodTarget[] =>
  Array.from({ length: n }, (_, i) => ({ key: `ns/p${i}`, incarnation: `uid${i}/0`, address: `https://10.0.0.${i}:4001`, namespace: 'ns', name: `p${i}`, uid: `uid${i}` }));
const pusher = (client: ScriptedClient, now = () => Date.now(), metrics = new OperatorMetrics()) =>
  new Pusher({ client: client as unknown as SidecarClient, metrics, logger: pino({ level: 'silent' }), concurrency: 8, backoff: { baseMs: 1000, maxMs: 8000 }, now });

test('never more than `concurrency` pushes in flight', async () => {
  const client = new ScriptedClient();
  await pusher(client).push(targets(100), 1, '{}');
  expect(client.puts).toHaveLength(100);
  expect(client.maxActive).toBe(8);
});

test('a pod that answered a version is not pushed it again; a new incarnation is, after proving itself again', async () => {
  const client = new ScriptedClient();
  const p = pusher(client);
  const [t] = targets(1) as [PodTarget];
  await p.push([t], 1, '{}');
  await p.push([t], 1, '{}');
  expect(client.puts).toHaveLength(1);
  expect(client.verifies).toHaveLength(1); // the pinned certificate is reused within an incarnation
  await p.push([{ ...t, incarnation: 'uid0/1' }], 1, '{}');
  expect(client.puts).toHaveLength(2);
  expect(client.verifies).toHaveLength(2);
  expect(client.puts.map((x) => x.pin)).toEqual(['cert-of-https://10.0.0.0:4001', 'cert-of-https://10.0.0.0:4001']);
});

test('unreachable pod: backed off per pod (others unaffected), retried after the backoff', async () => {
  let now = 0;
  const client = new ScriptedClient();
  client.answer = (address) => (address.endsWith('.0:4001') ? { kind: 'failed', message: 'ECONNREFUSED' } : { kind: 'applied', version: 1, hash: 'h' });
  const p = pusher(client, () => now);
  const ts = targets(3);
  const first = await p.push(ts, 1, '{}');
  expect(first.retryAt).toBeGreaterThanOrEqual(500); // base 1000 ms with jitter in [0.5, 1]
  expect(p.observation(ts[0]!)).toEqual({ unreachable: 'ECONNREFUSED' });
  await p.push(ts, 1, '{}'); // still backing off: nothing sent
  expect(client.puts).toHaveLength(3);
  now = 1000;
  await p.push(ts, 1, '{}');
  expect(client.puts).toHaveLength(4); // only the failed pod, once
});

test('a sidecar that cannot prove it is the pod’s (another pod at its address) gets nothing: no push, no observe; reported and backed off', async () => {
  const client = new ScriptedClient();
  client.identity = (address) => (address.endsWith('.1:4001') ? { kind: 'failed', message: 'the sidecar at https://10.0.0.1:4001 is pod other (uid-x), not p1 (uid1)' } : { kind: 'verified', pin: 'c' });
  const metrics = new OperatorMetrics();
  const p = pusher(client, () => Date.now(), metrics);
  const ts = targets(2);
  await p.observe(ts);
  await p.push(ts, 1, '{}');
  expect(client.puts.map((x) => x.address)).toEqual(['https://10.0.0.0:4001']);
  expect(p.observation(ts[1]!)).toEqual({ unreachable: 'sidecar identity not proven: the sidecar at https://10.0.0.1:4001 is pod other (uid-x), not p1 (uid1)' });
  expect((await metrics.pushes.get()).values.find((v) => v.labels.outcome === 'unverified')?.value).toBe(1);
});
