import { ReplyError } from 'ioredis';
import { describe, expect, test } from 'vitest';
import type { LifecycleEvent, LifecycleEventType } from '../types.ts';
import { MAX_BATCH, TERMINAL_RESERVE, WriteQueue, type WriteOp, type WriteOutcome, type WriteSink } from './write-queue.ts';

const ev = (seq: number, type: LifecycleEventType = 'content.delta', text = `t${seq}`, requestId = 'r'): LifecycleEvent => ({ requestId, seq, ts: 1, attempt: 1, type, data: type === 'content.delta' ? { choice: 0, text } : {} }) as LifecycleEvent;
const ok: WriteOutcome = { code: 1, evicted: 0 };
const dropped = new Error('Connection is closed.');

/** A sink that records every batch and answers what the test scripts (default: every op written). */
class FakeSink implements WriteSink {
  ready = true;
  batches: WriteOp[][] = [];
  inFlight = 0;
  maxInFlight = 0;
  answers: ((batch: readonly WriteOp[]) => Promise<WriteOutcome[]> | WriteOutcome[])[] = [];

  async write(batch: readonly WriteOp[]): Promise<WriteOutcome[]> {
    this.batches.push([...batch]);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      const answer = this.answers.shift();
      return answer ? await answer(batch) : batch.map(() => ok);
    } finally {
      this.inFlight--;
    }
  }

  seqs(i: number): (number | string)[] {
    return this.batches[i]!.map((op) => (op.kind === 'event' ? op.ev.seq : `record:${op.status}`));
  }
}

function queue(sink: WriteSink, opts: { maxEvents?: number; maxBytes?: number } = {}) {
  const lost: string[] = [];
  const connectionErrors: Error[] = [];
  const q = new WriteQueue(sink, { ...opts, where: 'redis://test', onLost: (id) => lost.push(id), onConnectionError: (e) => connectionErrors.push(e) });
  return { q, lost, connectionErrors };
}

/** Waits until every op queued so far is settled (a generous timeout: the barrier resolves on timeout too, so check `pending` after). */
async function drained(q: WriteQueue): Promise<void> {
  await q.settled(20_000);
  expect(q.pending).toBe(0);
}

describe('write queue: batching', () => {
  test('append() only queues: nothing is written in the same turn; the next turn writes what waits as one batch, in order', async () => {
    const sink = new FakeSink();
    const { q } = queue(sink);
    for (let s = 1; s <= 3; s++) q.append(ev(s));
    expect(sink.batches).toEqual([]);
    expect(q.pending).toBe(3);
    await drained(q);
    expect(sink.batches.length).toBe(1);
    expect(sink.seqs(0)).toEqual([1, 2, 3]);
    expect([q.bufferedEvents, q.bufferedBytes]).toEqual([0, 0]);
  });

  test(`batches of at most ${MAX_BATCH} ops, one in flight at a time, in queue order; never two batches at once`, async () => {
    const sink = new FakeSink();
    const { q } = queue(sink, { maxEvents: 10_000 });
    const n = 2 * MAX_BATCH + 500;
    for (let s = 1; s <= n; s++) q.append(ev(s));
    await drained(q);
    expect(sink.batches.map((b) => b.length)).toEqual([MAX_BATCH, MAX_BATCH, 500]);
    expect(sink.batches.flat().map((op) => op.kind === 'event' && op.ev.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(sink.maxInFlight).toBe(1);
  });

  test('a record write is queued behind the events before it and ahead of those after it (one order per request)', async () => {
    const sink = new FakeSink();
    const { q } = queue(sink);
    q.append(ev(1));
    q.record({ id: 'r', json: '{}', status: 'completed', finished: true, idemKey: undefined });
    q.append(ev(2, 'request.completed'));
    await drained(q);
    expect(sink.seqs(0)).toEqual([1, 'record:completed', 2]);
  });
});

describe('write queue: bounds while the store is away', () => {
  test('past maxEvents waiting, events are dropped and counted, not queued; nothing is written while the sink is not ready', async () => {
    const sink = new FakeSink();
    sink.ready = false;
    const { q } = queue(sink, { maxEvents: 10 });
    for (let s = 1; s <= 15; s++) q.append(ev(s));
    expect(q.pending).toBe(10);
    expect(q.dropped).toBe(5);
    await new Promise((r) => setImmediate(r));
    expect(sink.batches).toEqual([]);
    sink.ready = true;
    q.resume();
    await drained(q);
    expect(sink.seqs(0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test(`terminal events get ${TERMINAL_RESERVE} more places past a full buffer, and past maxBytes; beyond the reserve they are dropped too`, () => {
    const sink = new FakeSink();
    sink.ready = false;
    const { q } = queue(sink, { maxEvents: 2, maxBytes: 1_000 });
    q.append(ev(1));
    q.append(ev(2));
    q.append(ev(3));
    expect(q.dropped).toBe(1);
    for (let i = 0; i < TERMINAL_RESERVE; i++) q.append(ev(100 + i, 'request.completed', '', `req${i}`));
    expect(q.pending).toBe(2 + TERMINAL_RESERVE);
    expect(q.dropped).toBe(1);
    q.append(ev(5000, 'request.failed'));
    expect(q.dropped).toBe(2);
  });

  test('past maxBytes of buffered text a content event is dropped; a small one still fits', () => {
    const sink = new FakeSink();
    sink.ready = false;
    const { q } = queue(sink, { maxBytes: 1_000 });
    q.append(ev(1, 'content.delta', 'x'.repeat(600))); // ~1,400 bytes: over the bound on its own
    expect([q.pending, q.dropped]).toEqual([0, 1]);
    q.append(ev(2, 'content.delta', 'ok'));
    expect([q.pending, q.dropped]).toEqual([1, 1]);
    expect(q.bufferedBytes).toBeLessThanOrEqual(1_000);
  });

  test('settled() does not wait for a store that is away: a reader gets what the store has now', async () => {
    const sink = new FakeSink();
    sink.ready = false;
    const { q } = queue(sink);
    q.append(ev(1));
    await q.settled(60_000);
    expect(q.pending).toBe(1);
  });
});

describe('write queue: failures', () => {
  test('a connection failure mid-batch: the written prefix leaves the queue; from the failed op on everything is written again (an op that had landed comes back as a duplicate)', async () => {
    const sink = new FakeSink();
    const { q, connectionErrors } = queue(sink);
    sink.answers.push(() => [ok, ok, { error: dropped }, ok, ok]);
    sink.answers.push(() => [ok, { code: 0, evicted: 0 }, { code: 0, evicted: 0 }]);
    for (let s = 1; s <= 5; s++) q.append(ev(s));
    await drained(q);
    expect(sink.seqs(0)).toEqual([1, 2, 3, 4, 5]);
    expect(sink.seqs(1)).toEqual([3, 4, 5]);
    expect(connectionErrors).toEqual([dropped]);
    expect([q.duplicates, q.dropped]).toEqual([2, 0]);
  });

  test('a batch that failed as a whole (the pipeline rejected) stays queued and is written again, nothing dropped', async () => {
    const sink = new FakeSink();
    const { q } = queue(sink);
    sink.answers.push(() => Promise.reject(dropped));
    for (let s = 1; s <= 3; s++) q.append(ev(s));
    await drained(q);
    expect(sink.batches.map((_, i) => sink.seqs(i))).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(q.dropped).toBe(0);
  });

  test('a write Redis refuses (a reply error, not the connection) is dropped and counted, never retried; the rest of the batch goes on', async () => {
    const sink = new FakeSink();
    const { q } = queue(sink);
    sink.answers.push(() => [ok, { error: new ReplyError('ERR invalid stream ID') as Error }, ok]);
    for (let s = 1; s <= 3; s++) q.append(ev(s));
    await drained(q);
    expect(sink.batches.length).toBe(1);
    expect(q.dropped).toBe(1);
  });

  test('an event or a record the store refuses because another sidecar ended the request reports that request as lost; evictions are summed', async () => {
    const sink = new FakeSink();
    const { q, lost } = queue(sink);
    sink.answers.push(() => [
      { code: 1, evicted: 2 },
      { code: -1, evicted: 0 },
      { code: -1, evicted: 0 },
    ]);
    q.append(ev(1, 'content.delta', 'a', 'mine'));
    q.append(ev(7, 'content.delta', 'b', 'taken'));
    q.record({ id: 'taken-too', json: '{}', status: 'running', finished: false, idemKey: undefined });
    await drained(q);
    expect(lost).toEqual(['taken', 'taken-too']);
    expect(q.evictions).toBe(2);
  });
});

describe('write queue: close', () => {
  test('close lets every settled() waiter go, drops what is queued and takes no more', async () => {
    const sink = new FakeSink();
    sink.ready = false;
    const { q } = queue(sink);
    q.append(ev(1));
    sink.ready = true; // a waiter now waits for the write...
    const waiting = q.settled(60_000);
    q.close(); // ...and is let go by close
    await waiting;
    q.append(ev(2));
    q.record({ id: 'r', json: '{}', status: 'running', finished: false, idemKey: undefined });
    expect(q.pending).toBe(1);
    q.resume();
    await new Promise((r) => setImmediate(r));
    expect(sink.batches).toEqual([]);
  });
});
