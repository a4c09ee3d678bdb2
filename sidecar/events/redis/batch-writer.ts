// The write queue's sink on Redis: one batch as one pipeline of script calls, and the replies
// spread back over the ops. Events go in calls of up to MAX_CALL, grouped by request inside a
// call; a record write closes the call, so that each request's writes stay in queue order (a
// record never says "completed" before the events that led there are stored).
import type { Retention } from '../journal.ts';
import type { LifecycleEvent } from '../types.ts';
import type { StoreLink } from './connection.ts';
import type { KeyLayout } from './keys.ts';
import { append, appendReply, writeRecord, type WriteCode } from './scripts.ts';
import type { WriteOp, WriteOutcome, WriteSink } from './write-queue.ts';

/** Events per script call: bounds how long one call holds Redis (about a millisecond). */
export const MAX_CALL = 400;

/** One command of the pipeline: an append call (batch positions of its events, by request) or a record write. */
export type Call = { kind: 'events'; byRequest: Map<string, number[]>; size: number } | { kind: 'record'; op: number };

/** How a batch becomes script calls, by position in the batch. */
export function planCalls(batch: readonly WriteOp[]): Call[] {
  const calls: Call[] = [];
  let call: Extract<Call, { kind: 'events' }> | undefined;
  batch.forEach((op, i) => {
    if (op.kind === 'record') {
      call = undefined;
      calls.push({ kind: 'record', op: i });
      return;
    }
    if (!call || call.size >= MAX_CALL) {
      call = { kind: 'events', byRequest: new Map(), size: 0 };
      calls.push(call);
    }
    const list = call.byRequest.get(op.ev.requestId);
    if (list) list.push(i);
    else call.byRequest.set(op.ev.requestId, [i]);
    call.size++;
  });
  return calls;
}

/** The batch positions a call's reply codes answer, in reply order. */
function positions(call: Call): number[] {
  return call.kind === 'record' ? [call.op] : [...call.byRequest.values()].flat();
}

export class RedisBatchWriter implements WriteSink {
  private readonly link: StoreLink;
  private readonly keys: KeyLayout;
  private readonly owner: string;
  private readonly retention: () => Retention;

  constructor(link: StoreLink, keys: KeyLayout, owner: string, retention: () => Retention) {
    this.link = link;
    this.keys = keys;
    this.owner = owner;
    this.retention = retention;
  }

  get ready(): boolean {
    return this.link.up;
  }

  async write(batch: readonly WriteOp[]): Promise<WriteOutcome[]> {
    const retention = this.retention();
    const p = this.link.client.pipeline();
    const calls = planCalls(batch);
    const settings = { retention, owner: this.owner, now: Date.now() };
    for (const c of calls) {
      if (c.kind === 'events') {
        const byRequest = [...c.byRequest].map(([id, idx]): [string, LifecycleEvent[]] => [id, idx.map((i) => (batch[i] as Extract<WriteOp, { kind: 'event' }>).ev)]);
        append(p, this.keys, settings, byRequest);
      } else writeRecord(p, this.keys, batch[c.op] as Extract<WriteOp, { kind: 'record' }>, retention.ttlMs, this.owner);
    }
    const results = (await p.exec()) ?? [];
    const out: WriteOutcome[] = new Array(batch.length);
    calls.forEach((c, k) => {
      const [err, reply] = results[k] ?? [new Error('no reply'), undefined];
      const at = positions(c);
      if (err) for (const i of at) out[i] = { error: err };
      else if (c.kind === 'record') out[c.op] = { code: reply as WriteCode, evicted: 0 };
      else {
        const { evicted, codes } = appendReply(reply);
        // a call's evictions are counted once, on its first event
        at.forEach((i, n) => (out[i] = { code: codes[n] ?? 1, evicted: n === 0 ? evicted : 0 }));
      }
    });
    return out;
  }
}
