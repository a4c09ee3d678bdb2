import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { afterEach, expect, test } from 'vitest';
import { FifoQueue, MemoryJournal, JournalGone, JournalUnknown } from './journal.ts';
import type { LifecycleEvent, LifecycleEventType } from './types.ts';
import { attachEventsWebSocket, WS_SLOW_CONSUMER } from './websocket.ts';

const retention = { maxRequests: 100, maxEventsPerRequest: 1000, maxBytes: 10 * 1024 * 1024, ttlMs: 60_000 };
const journals: MemoryJournal[] = [];
afterEach(async () => {
  for (const j of journals.splice(0)) await j.close();
});

function journal(r = retention): MemoryJournal {
  const j = new MemoryJournal(r);
  journals.push(j);
  return j;
}

function feed(j: MemoryJournal, id: string, n: number, terminal = true, text = 'tok'): void {
  const ev = (seq: number, type: LifecycleEventType): LifecycleEvent => ({ requestId: id, seq, ts: Date.now(), attempt: 1, type, data: type === 'content.delta' ? { choice: 0, text } : {} }) as LifecycleEvent;
  j.append(ev(1, 'request.accepted'));
  for (let s = 2; s < n; s++) j.append(ev(s, 'content.delta'));
  if (terminal) j.append(ev(n, 'request.completed'));
}

test('read gives exactly the events after a seq; unknown ids are unknown', async () => {
  const j = journal();
  feed(j, 'r1', 10);
  const r = await j.read('r1', 7);
  expect(r.status === 'ok' && r.events.map((e) => e.seq)).toEqual([8, 9, 10]);
  expect(await j.read('nope', 0)).toEqual({ status: 'unknown' });
});

test('count bound: the oldest finished requests are evicted first and then read as gone, not unknown', async () => {
  const j = journal({ ...retention, maxRequests: 3 });
  feed(j, 'live', 3, false);
  for (const id of ['f1', 'f2', 'f3']) feed(j, id, 3);
  expect((await j.read('f1', 0)).status).toBe('gone');
  expect((await j.read('live', 0)).status).toBe('ok');
  expect(j.stats().requests).toBe(3);
});

test('eviction order is the order requests finished, not the order they started; only when none is finished does one in flight go', async () => {
  const j = journal({ ...retention, maxRequests: 3 });
  feed(j, 'a', 3, false); // starts first, finishes last
  feed(j, 'b', 3);
  j.append({ requestId: 'a', seq: 3, ts: Date.now(), attempt: 1, type: 'request.completed', data: {} } as LifecycleEvent);
  feed(j, 'c', 3);
  feed(j, 'd', 3); // over the bound: b finished first, so b goes
  expect((await j.read('b', 0)).status).toBe('gone');
  expect((await j.read('a', 0)).status).toBe('ok');
  const k = journal({ ...retention, maxRequests: 2 });
  for (const id of ['x', 'y', 'z']) feed(k, id, 2, false);
  expect((await k.read('x', 0)).status).toBe('gone');
  expect(k.stats().requests).toBe(2);
});

test('tombstones are bounded and forget the oldest first', async () => {
  const j = journal({ ...retention, maxRequests: 10 });
  for (let i = 0; i < 1200; i++) feed(j, `t${i}`, 2);
  expect((await j.read('t0', 0)).status).toBe('unknown'); // forgotten: past the 1,000 tombstones kept
  expect((await j.read('t1100', 0)).status).toBe('gone');
});

test('FifoQueue: first in, first out across its internal compaction', () => {
  const q = new FifoQueue<number>();
  for (let i = 0; i < 5000; i++) q.push(i);
  for (let i = 0; i < 3000; i++) expect(q.shift()).toBe(i);
  q.push(5000);
  expect(q.size).toBe(2001);
  expect(q.peek()).toBe(3000);
  const rest: number[] = [];
  for (let v = q.shift(); v !== undefined; v = q.shift()) rest.push(v);
  expect(rest).toHaveLength(2001);
  expect(rest.at(-1)).toBe(5000);
});

test('byte bound: memory stays under maxBytes however many requests run', async () => {
  const j = journal({ ...retention, maxRequests: 1_000_000, maxBytes: 200_000 });
  for (let i = 0; i < 2000; i++) feed(j, `r${i}`, 20, true, 'x'.repeat(50));
  expect(j.stats().bytes).toBeLessThanOrEqual(200_000);
  expect(j.stats().evictions).toBeGreaterThan(1500);
});

test('a request with more events than allowed keeps its newest; asking for trimmed seqs is gone', async () => {
  const j = journal({ ...retention, maxEventsPerRequest: 100 });
  feed(j, 'long', 500);
  expect((await j.read('long', 0)).status).toBe('gone');
  const tail = await j.read('long', 495);
  expect(tail.status === 'ok' && tail.events.map((e) => e.seq)).toEqual([496, 497, 498, 499, 500]);
  expect(j.stats().events).toBeLessThanOrEqual(100);
});

test('follow replays, then waits for live events, and ends after the terminal event', async () => {
  const j = journal();
  j.append({ requestId: 'f', seq: 1, ts: 1, attempt: 0, type: 'request.accepted', data: {} } as LifecycleEvent);
  const seen: number[] = [];
  const done = (async () => {
    for await (const ev of j.follow('f', 0, new AbortController().signal)) seen.push(ev.seq);
  })();
  await new Promise((r) => setTimeout(r, 20));
  j.append({ requestId: 'f', seq: 2, ts: 2, attempt: 1, type: 'content.delta', data: { choice: 0, text: 'a' } });
  j.append({ requestId: 'f', seq: 3, ts: 3, attempt: 1, type: 'request.completed', data: {} } as LifecycleEvent);
  await done;
  expect(seen).toEqual([1, 2, 3]);
  expect(() => j.follow('unknown', 0, new AbortController().signal)).toThrow(JournalUnknown);
  const k = journal({ ...retention, maxRequests: 1 });
  feed(k, 'old', 3);
  feed(k, 'new', 3);
  expect(() => k.follow('old', 0, new AbortController().signal)).toThrow(JournalGone);
});

test('a stalled WebSocket consumer is closed with 4008 once it has a bounded amount unsent; memory does not grow without end', async () => {
  const j = journal({ ...retention, maxEventsPerRequest: 1_000_000, maxBytes: 1 << 30 });
  const server = createServer();
  attachEventsWebSocket(server, () => j, { maxBuffered: 64 * 1024, graceMs: 300 });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    feed(j, 'big', 2, false);
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/airoute/v1/requests/big/events`);
    await new Promise((r) => ws.once('open', r));
    // stop reading: the kernel buffers fill, then the sidecar's own buffer
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    let seq = 3;
    const text = 'y'.repeat(4096);
    const pump = setInterval(() => {
      for (let i = 0; i < 200; i++) j.append({ requestId: 'big', seq: seq++, ts: Date.now(), attempt: 1, type: 'content.delta', data: { choice: 0, text } });
    }, 5);
    // the close frame can only be read once the consumer reads again
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(pump);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(WS_SLOW_CONSUMER);
    expect(seq).toBeGreaterThan(10_000); // far more was produced than the consumer was ever sent
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
