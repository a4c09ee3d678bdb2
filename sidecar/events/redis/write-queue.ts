// The journal's writes, off the hot path: append() only queues; the queue is written as one batch
// per turn of the event loop, one batch in flight at a time, in order, through one sink (one
// pipeline on one connection: batch-writer.ts). While the store is unreachable the queue holds
// up to its bounds and is written (retried) on reconnect; past them events are dropped and
// counted (`dropped`, the airoute_journal_dropped_total metric).
//
// Bounds: at most maxEvents ops waiting (terminal events get TERMINAL_RESERVE more: losing the
// end of a story hurts most) and maxBytes of buffered event text (terminal events are let
// through); a batch is at most MAX_BATCH ops.
//
// Retried writes are safe because every write is idempotent in the store (events by seq, a record
// by its latest state): from the first op that failed on the connection on, the batch stays
// queued and is written again, and an op after it that did land is then recognised as a duplicate.
import type { Logger } from 'pino';
import { TERMINAL_EVENTS, type LifecycleEvent } from '../types.ts';
import { isConnectionError } from './connection.ts';
import { reasoningSize } from '../journal.ts';
import type { RecordWrite, WriteCode } from './scripts.ts';

export const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** Terminal events get this much room past a full buffer. */
export const TERMINAL_RESERVE = 1_000;
/** Ops per batch: bounds one pipeline's size and how long its reply takes to read. */
export const MAX_BATCH = 2_000;
/** Pause before writing again after a batch failed on the connection (a reconnect also resumes). */
const RETRY_MS = 100;

export type WriteOp = ({ kind: 'event'; ev: LifecycleEvent } | ({ kind: 'record' } & RecordWrite)) & { size: number };

/** Per op, what the store did with it, or why it was not written. */
export type WriteOutcome = { code: WriteCode; evicted: number } | { error: Error };

/** Where batches go. */
export interface WriteSink {
  /** Whether the store can take writes now; when it can again, the owner calls WriteQueue.resume(). */
  readonly ready: boolean;
  /** Writes a batch, in order, in one round trip: an outcome per op; rejects when nothing is known of any. */
  write(batch: readonly WriteOp[]): Promise<WriteOutcome[]>;
}

export interface WriteQueueOptions {
  maxEvents?: number;
  maxBytes?: number;
  logger?: Logger | undefined;
  /** The store, for log lines (no password). */
  where: string;
  /** A write failed on the connection (it will be retried). */
  onConnectionError: (err: Error) => void;
  /** The store refused a write because another sidecar ended the request. */
  onLost: (id: string) => void;
}

/** Roughly what an event costs to buffer: a fixed overhead plus its text. */
export function sizeOf(ev: LifecycleEvent): number {
  if (ev.type !== 'content.delta') return 200;
  return 200 + (typeof ev.data.text === 'string' ? ev.data.text.length * 2 : 0) + reasoningSize(ev.data.reasoning);
}

export class WriteQueue {
  private readonly sink: WriteSink;
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly opts: WriteQueueOptions;
  // ops[head..] are not yet acknowledged
  private ops: WriteOp[] = [];
  private head = 0;
  private writing = false;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Ops ever queued / ever settled (written, or given up): read-your-writes barriers wait on these. */
  private enqueued = 0;
  private settledCount = 0;
  private barriers: { mark: number; resolve: () => void }[] = [];

  bufferedBytes = 0;
  bufferedEvents = 0;
  /** Events not kept: the buffer was full, or the store refused them. */
  dropped = 0;
  /** Retried writes the store already had. */
  duplicates = 0;
  /** Requests the store's count bound evicted to make room for ours. */
  evictions = 0;

  constructor(sink: WriteSink, opts: WriteQueueOptions) {
    this.sink = sink;
    this.opts = opts;
    this.maxEvents = opts.maxEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  }

  get pending(): number {
    return this.ops.length - this.head;
  }

  append(ev: LifecycleEvent): void {
    if (this.closed) return;
    const pending = this.pending;
    const terminal = TERMINAL_EVENTS.has(ev.type);
    const size = sizeOf(ev);
    const room = terminal ? this.maxEvents + TERMINAL_RESERVE : this.maxEvents;
    if (pending >= room || (!terminal && this.bufferedBytes + size > this.maxBytes)) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0)
        this.opts.logger?.warn({ store: this.opts.where, dropped: this.dropped, pending }, 'journal store unreachable and the write buffer is full: events are dropped');
      return;
    }
    this.push({ kind: 'event', ev, size });
  }

  /** Queues an async record's state behind the events already queued (ordered with them, retried like them). */
  record(w: RecordWrite): void {
    if (this.closed) return;
    this.push({ kind: 'record', ...w, size: 200 + w.json.length });
  }

  private push(op: WriteOp): void {
    this.ops.push(op);
    this.enqueued++;
    this.bufferedBytes += op.size;
    if (op.kind === 'event') this.bufferedEvents++;
    this.resume();
  }

  /** Writes what waits at the next turn of the event loop, if the sink is ready and nothing is in flight. */
  resume(): void {
    if (this.closed || this.scheduled || this.writing || this.head >= this.ops.length || !this.sink.ready) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.writing || this.head >= this.ops.length || !this.sink.ready) return;
    this.writing = true;
    const batch = this.ops.slice(this.head, this.head + MAX_BATCH);
    let stopped = false;
    this.sink
      .write(batch)
      .then(
        (outcomes) => (stopped = this.settle(batch, outcomes)),
        (err: unknown) => (stopped = this.settle(batch, batch.map(() => ({ error: err as Error })))),
      )
      .catch((err: unknown) => this.opts.logger?.error({ err: (err as Error).message }, 'journal write bookkeeping failed'))
      .finally(() => {
        this.writing = false;
        if (this.head >= this.ops.length) return;
        if (!stopped) this.resume();
        else if (!this.retryTimer) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.resume();
          }, RETRY_MS);
          this.retryTimer.unref();
        }
      });
  }

  /** Takes the acknowledged prefix of a batch off the queue. True if it stopped on a connection failure. */
  private settle(batch: WriteOp[], outcomes: WriteOutcome[]): boolean {
    let done = 0;
    let stopped = false;
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i]!;
      const out = outcomes[i] ?? { error: new Error('no reply') };
      if ('error' in out) {
        if (isConnectionError(out.error)) {
          this.opts.onConnectionError(out.error);
          stopped = true;
          break;
        }
        this.dropped++;
        this.opts.logger?.error({ store: this.opts.where, err: out.error.message, kind: op.kind }, 'the journal store refused a write');
      } else if (op.kind === 'event') {
        if (out.code === 0) this.duplicates++;
        else if (out.code === -1) this.opts.onLost(op.ev.requestId);
        this.evictions += out.evicted;
      } else if (out.code === -1) this.opts.onLost(op.id);
      done++;
    }
    for (let i = 0; i < done; i++) {
      const op = this.ops[this.head]!;
      this.bufferedBytes -= op.size;
      if (op.kind === 'event') this.bufferedEvents--;
      this.head++;
    }
    // drop the settled prefix now and then, not on every batch (a copy of what is left)
    if (this.head > 4096 && this.head * 2 > this.ops.length) {
      this.ops = this.ops.slice(this.head);
      this.head = 0;
    }
    this.settledCount += done;
    this.releaseBarriers(false);
    return stopped;
  }

  /** Lets settled() callers go: all of them (the connection closed: nothing will settle soon), or those whose ops settled. */
  releaseBarriers(all = true): void {
    if (!this.barriers.length) return;
    const keep: typeof this.barriers = [];
    for (const b of this.barriers) if (all || b.mark <= this.settledCount) b.resolve();
    else keep.push(b);
    this.barriers = all ? [] : keep;
  }

  /**
   * Resolves once everything queued so far is written (or given up, or the store is down): a
   * reader on the sidecar that ran a request sees its own writes.
   */
  settled(timeoutMs = 2_000): Promise<void> {
    if (this.settledCount >= this.enqueued || !this.sink.ready) return Promise.resolve();
    const mark = this.enqueued;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.barriers = this.barriers.filter((b) => b.resolve !== done);
        resolve();
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.barriers.push({ mark, resolve: done });
    });
  }

  /** Takes no more ops and lets every waiter go; what is still queued is not written. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.releaseBarriers();
  }
}
