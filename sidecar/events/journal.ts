// The event journal: every request's lifecycle events, kept for replay (SSE, WebSocket, polling)
// behind one interface so a shared store (Redis Streams) can take the in-memory one's place.
import { AirouteError } from '../errors.ts';
import type { LifecycleEvent } from './types.ts';
import { TERMINAL_EVENTS } from './types.ts';

export type ReadResult = { status: 'ok'; events: LifecycleEvent[]; ended: boolean } | { status: 'gone' } | { status: 'unknown' };

export class JournalGone extends Error {
  constructor(id: string) {
    super(`the events of request ${id} are past retention`);
  }
}
export class JournalUnknown extends Error {
  constructor(id: string) {
    super(`no request ${id}`);
  }
}

/** What a client is told when a journal read or follow failed; anything but gone/unknown is rethrown. */
export function journalError(err: unknown, id: string): AirouteError {
  if (err instanceof JournalGone) return new AirouteError('gone', 410, `the events of request ${id} are past retention`);
  if (err instanceof JournalUnknown) return new AirouteError('not_found', 404, `no request ${id}`);
  throw err;
}

export interface JournalStats {
  requests: number;
  events: number;
  bytes: number;
  evictions: number;
  /** Events not kept because the store was unreachable and the local write buffer was full (shared stores). */
  dropped?: number;
  /** Writes waiting for the store (shared stores). */
  pending?: number;
  /** Retried writes the store already had (a reply lost on the way back), recognised and not stored twice. */
  duplicates?: number;
  /** Whether the store answers now (a memory journal always does). */
  up?: boolean;
}

export interface Journal {
  /** Called for every event of every request, on the hot path: must not block. */
  append(ev: LifecycleEvent): void;
  /** Events with seq > after, as far as they exist now. */
  read(id: string, after: number): Promise<ReadResult>;
  /**
   * Replays the events after `after`, then follows live until the terminal event or the signal.
   * Throws JournalUnknown / JournalGone before yielding if the request or the asked-for events are not kept.
   */
  follow(id: string, after: number, signal: AbortSignal): AsyncIterable<LifecycleEvent>;
  stats(): JournalStats;
  close(): Promise<void>;
  /**
   * follow()'s precondition for stores that must ask over the network, where follow() cannot
   * throw before returning: rejects with JournalUnknown / JournalGone. Callers that can still
   * answer 404/410 (the SSE handler, the WebSocket upgrade) await it first.
   */
  check?(id: string, after: number): Promise<void>;
  /** Why events cannot be kept right now (a shared store is unreachable), or undefined. */
  unavailable?(): string | undefined;
}

export interface Retention {
  maxRequests: number;
  maxEventsPerRequest: number;
  maxBytes: number;
  ttlMs: number;
}

interface Entry {
  id: string;
  /** Events from firstSeq on, in order, gapless. */
  events: LifecycleEvent[];
  firstSeq: number;
  bytes: number;
  createdAt: number;
  endedAt?: number;
  /** Followers waiting for the next event; made when the first one waits (most requests never have one). */
  waiters?: Set<() => void>;
}

/** What an event costs to keep, roughly: a fixed overhead plus its text. */
function sizeOf(ev: LifecycleEvent): number {
  const text = ev.type === 'content.delta' ? ev.data.text : undefined;
  // measured: an event object, its data object and the array slot take ~250 bytes of heap before its text
  return 256 + (typeof text === 'string' ? text.length * 2 : 0) + (ev.type === 'content.delta' ? reasoningSize(ev.data.reasoning) : 256);
}

/** Reasoning text and proofs (an encrypted blob can be kilobytes) count like text. */
export function reasoningSize(r: { text?: string; end?: { signature?: string; encrypted?: string; redacted?: string } } | undefined): number {
  if (!r) return 0;
  return 2 * ((r.text?.length ?? 0) + (r.end?.signature?.length ?? 0) + (r.end?.encrypted?.length ?? 0) + (r.end?.redacted?.length ?? 0));
}

/**
 * In-memory journal bounded by request count, events per request, total bytes and age. Whole
 * requests are evicted oldest-finished first; an evicted request's id is remembered (bounded) so
 * a late reader gets "gone" (410) rather than "unknown" (404).
 */
export class MemoryJournal implements Journal {
  private readonly entries = new Map<string, Entry>();
  /**
   * Finished requests in the order they finished: eviction takes from the front. A queue rather
   * than a walk over `entries` from its start, because a Map that keeps losing its oldest keys
   * keeps their slots as holes until it rehashes, and every walk from the start steps over all
   * of them: that made each eviction cost O(maxRequests) on the hot path.
   */
  private readonly finished = new FifoQueue<Entry>();
  private readonly tombstones = new Set<string>();
  /** The same ids as `tombstones`, oldest first, so the oldest is dropped without a walk over the Set. */
  private readonly tombstoneOrder = new FifoQueue<string>();
  private bytes = 0;
  private events = 0;
  private evictions = 0;
  private retention: Retention;
  private readonly sweeper: NodeJS.Timeout;
  private readonly onEvict: ((n: number) => void) | undefined;

  constructor(retention: Retention, onEvict?: (n: number) => void) {
    this.retention = retention;
    this.onEvict = onEvict;
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(5000, Math.max(250, retention.ttlMs / 4)));
    this.sweeper.unref();
  }

  configure(retention: Retention): void {
    this.retention = retention;
  }

  append(ev: LifecycleEvent): void {
    let e = this.entries.get(ev.requestId);
    if (!e) {
      e = { id: ev.requestId, events: [], firstSeq: ev.seq, bytes: 0, createdAt: ev.ts };
      this.entries.set(ev.requestId, e);
      if (this.entries.size > this.retention.maxRequests) this.evictOldest(1);
    }
    const size = sizeOf(ev);
    e.events.push(ev);
    e.bytes += size;
    this.bytes += size;
    this.events++;
    if (e.events.length > this.retention.maxEventsPerRequest) this.trim(e);
    if (TERMINAL_EVENTS.has(ev.type)) {
      e.endedAt = ev.ts;
      this.finished.push(e);
    }
    if (e.waiters?.size) {
      const waiters = [...e.waiters];
      e.waiters.clear();
      for (const w of waiters) w();
    }
    if (this.bytes > this.retention.maxBytes) this.evictOldest(0);
  }

  /** A request with more events than allowed keeps its newest half-window; older seqs become "gone". */
  private trim(e: Entry): void {
    const drop = Math.ceil(e.events.length / 2);
    for (let i = 0; i < drop; i++) {
      const size = sizeOf(e.events[i]!);
      e.bytes -= size;
      this.bytes -= size;
    }
    e.events.splice(0, drop);
    this.events -= drop;
    e.firstSeq += drop;
  }

  /** Evicts `n` requests (or, with n = 0, as many as it takes to get under the byte bound), the oldest finished first. */
  private evictOldest(n: number): void {
    let evicted = 0;
    const enough = () => (n > 0 ? evicted >= n : this.bytes <= this.retention.maxBytes);
    while (!enough()) {
      const e = this.finished.shift();
      if (!e) break;
      // Already gone (swept, or evicted by the byte bound): its queue slot is all that was left.
      if (this.entries.get(e.id) !== e) continue;
      this.remove(e);
      evicted++;
    }
    // Only requests in flight are left: the oldest of them go (rare: the bounds are set for far more finished ones).
    if (!enough())
      for (const e of this.entries.values()) {
        this.remove(e);
        evicted++;
        if (enough()) return;
      }
  }

  private remove(e: Entry): void {
    this.entries.delete(e.id);
    this.bytes -= e.bytes;
    this.events -= e.events.length;
    this.evictions++;
    this.onEvict?.(1);
    this.tombstones.add(e.id);
    this.tombstoneOrder.push(e.id);
    while (this.tombstones.size > Math.max(1000, this.retention.maxRequests * 4)) {
      const oldest = this.tombstoneOrder.shift();
      if (oldest === undefined) break;
      this.tombstones.delete(oldest);
    }
    if (e.waiters) {
      for (const w of e.waiters) w();
      e.waiters.clear();
    }
  }

  private sweep(now: number): void {
    for (const e of this.entries.values()) {
      const since = e.endedAt ?? e.createdAt;
      // In-flight requests get twice the TTL before they are dropped: they may still be read.
      if (now - since > (e.endedAt === undefined ? 2 * this.retention.ttlMs : this.retention.ttlMs)) this.remove(e);
    }
    // The TTL removes the oldest finished first, so what it removed sits at the front of the queue.
    for (let head = this.finished.peek(); head && this.entries.get(head.id) !== head; head = this.finished.peek()) this.finished.shift();
  }

  async read(id: string, after: number): Promise<ReadResult> {
    const e = this.entries.get(id);
    if (!e) return { status: this.tombstones.has(id) ? 'gone' : 'unknown' };
    if (after + 1 < e.firstSeq) return { status: 'gone' };
    return { status: 'ok', events: e.events.slice(Math.max(0, after + 1 - e.firstSeq)), ended: e.endedAt !== undefined };
  }

  follow(id: string, after: number, signal: AbortSignal): AsyncIterable<LifecycleEvent> {
    const first = this.entries.get(id);
    if (!first) throw this.tombstones.has(id) ? new JournalGone(id) : new JournalUnknown(id);
    if (after + 1 < first.firstSeq) throw new JournalGone(id);
    const entries = this.entries;
    return {
      async *[Symbol.asyncIterator]() {
        let next = after + 1;
        let e: Entry | undefined = first;
        for (;;) {
          // Re-checked after every yield: the entry may have been trimmed meanwhile.
          if (!e || next < e.firstSeq) throw new JournalGone(id);
          if (next < e.firstSeq + e.events.length) {
            const ev: LifecycleEvent = e.events[next - e.firstSeq]!;
            next++;
            yield ev;
            if (TERMINAL_EVENTS.has(ev.type)) return;
            continue;
          }
          if (e.endedAt !== undefined) return;
          if (signal.aborted) return;
          const entry: Entry = e;
          await new Promise<void>((resolve) => {
            const done = () => {
              signal.removeEventListener('abort', done);
              entry.waiters?.delete(done);
              resolve();
            };
            (entry.waiters ??= new Set()).add(done);
            signal.addEventListener('abort', done, { once: true });
          });
          if (signal.aborted) return;
          e = entries.get(id);
        }
      },
    };
  }

  stats(): JournalStats {
    return { requests: this.entries.size, events: this.events, bytes: this.bytes, evictions: this.evictions };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const e of this.entries.values()) for (const w of e.waiters ?? []) w();
  }
}

/** A first-in first-out queue with O(1) push and shift (an array whose consumed head is dropped in bulk). */
export class FifoQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Drop the consumed head once it is most of the array: amortised O(1), memory bounded by twice the live items.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
