// Live follow: one extra connection per process runs a blocking XREAD over every stream someone
// on this process follows (plus its own control stream), and fans each entry out to those
// subscribers; adding a stream wakes the blocked XREAD with CLIENT UNBLOCK. Subscribers never
// hold a connection of their own.
//
// What a subscriber is handed is a hint, not the truth: it replays from Redis (reads.ts) whenever
// it may have missed something (its first catch-up, a queue past SUB_QUEUE_MAX, a jump in seq, a
// stream quiet for a lease), so the fan-out may drop or reorder without a client seeing it.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AirouteError } from '../../errors.ts';
import { JournalGone } from '../journal.ts';
import { TERMINAL_EVENTS, type LifecycleEvent } from '../types.ts';
import type { StoreLink } from './connection.ts';
import { entryIdAfter, entryId, eventsOf, type KeyLayout, type StreamEntry } from './keys.ts';
import { READ_PAGE, type StreamReader } from './reads.ts';

/** A subscriber that falls further behind than this re-reads from Redis instead of queueing more. */
const SUB_QUEUE_MAX = 2_000;
/** Entries per stream per XREAD reply. */
const XREAD_COUNT = 1_000;
const BLOCK_MS = 5_000;
/** How long the XREAD blocks where CLIENT UNBLOCK is refused: how late a newly followed stream joins. */
const SHORT_BLOCK_MS = 250;

interface Sub {
  queue: LifecycleEvent[];
  /** Something may have been missed (queue overflow, a safety re-check): read from Redis. */
  stale: boolean;
  gone: boolean;
  wake: (() => void) | undefined;
}

interface Followed {
  id: string;
  lastId: string;
  subs: Set<Sub>;
  lastActivity: number;
  checking: boolean;
}

export interface FollowerOptions {
  /** The connection the blocking XREAD runs on (nothing else uses it). */
  poller: Redis;
  link: StoreLink;
  keys: KeyLayout;
  reader: StreamReader;
  /** A stream of this process's own, read in the same XREAD (the control stream), and who gets its entries. */
  inbox: { key: string; receive(entries: readonly StreamEntry[]): void };
  leaseMs: number;
  /** Tries to end a request whose owner may be gone: 'unknown' tells its subscribers it is gone. */
  takeover(id: string): Promise<{ status: string }>;
  logger: Logger | undefined;
}

export class LiveFollower {
  private readonly o: FollowerOptions;
  private readonly followed = new Map<string, Followed>();
  private inboxLastId = '0-0';
  private pollerId: string | undefined;
  private polling = false;
  /** The store refuses CLIENT UNBLOCK: block briefly instead. */
  private noUnblock = false;
  private pollGen = 0;
  private closed = false;
  private readonly loop: Promise<void>;
  private readonly sweeper: NodeJS.Timeout;
  /** Gaps readers on this process met (events dropped upstream of the store). */
  gaps = 0;

  constructor(o: FollowerOptions) {
    this.o = o;
    o.poller.on('ready', () => {
      o.poller.call('CLIENT', 'ID').then(
        (id) => (this.pollerId = String(id)),
        () => undefined,
      );
    });
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, Math.min(1_000, Math.floor(o.leaseMs / 2))));
    this.sweeper.unref();
    this.loop = this.poll();
  }

  follow(id: string, after: number, signal: AbortSignal): AsyncIterable<LifecycleEvent> {
    const self = this;
    const { reader, logger } = this.o;
    return {
      async *[Symbol.asyncIterator]() {
        await reader.check(id, after);
        const sub: Sub = { queue: [], stale: true, gone: false, wake: undefined };
        self.subscribe(id, after, sub);
        try {
          let next = after + 1;
          for (;;) {
            if (signal.aborted || self.closed) return;
            while (sub.queue.length && sub.queue[0]!.seq < next) sub.queue.shift();
            let batch: LifecycleEvent[] | undefined;
            let more = false;
            if (!sub.stale && sub.queue.length && sub.queue[0]!.seq === next) batch = sub.queue.splice(0);
            else if (sub.stale || sub.queue.length) {
              // first catch-up after subscribing, a missed wake-up, or a jump in what the poller saw: ask Redis
              sub.stale = false;
              sub.queue.length = 0;
              let got: Awaited<ReturnType<StreamReader['range']>>;
              try {
                got = await reader.range(id, next, READ_PAGE);
              } catch (err) {
                if (!(err instanceof AirouteError)) throw err;
                // the store is unreachable: the stream pauses (SSE heartbeats continue) and resumes on reconnect
                sub.stale = true;
                await self.waitFor(sub, signal, 500);
                continue;
              }
              if (!got.events.length && sub.gone) throw new JournalGone(id);
              if (got.events.length && got.events[0]!.seq > next && got.firstSeq === got.events[0]!.seq) throw new JournalGone(id);
              batch = got.events;
              more = got.events.length === READ_PAGE;
            }
            if (batch?.length) {
              for (const ev of batch) {
                if (ev.seq < next) continue;
                if (ev.seq > next) {
                  self.gaps++;
                  logger?.warn({ requestId: id, missing: `${next}..${ev.seq - 1}` }, 'events of this request never reached the journal store (dropped while it was unreachable): the stream has a gap');
                }
                next = ev.seq + 1;
                yield ev;
                if (TERMINAL_EVENTS.has(ev.type)) return;
                if (signal.aborted) return;
              }
              if (more) sub.stale = true;
              continue;
            }
            await self.waitFor(sub, signal);
          }
        } finally {
          self.unsubscribe(id, sub);
        }
      },
    };
  }

  private waitFor(sub: Sub, signal: AbortSignal, timeoutMs?: number): Promise<void> {
    if (sub.queue.length || sub.stale || sub.gone || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      function done() {
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', done);
        sub.wake = undefined;
        resolve();
      }
      sub.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private subscribe(id: string, after: number, sub: Sub): void {
    const key = this.o.keys.stream(id);
    let f = this.followed.get(key);
    if (!f) {
      f = { id, lastId: entryId(after), subs: new Set(), lastActivity: Date.now(), checking: false };
      this.followed.set(key, f);
      this.wakePoller();
    }
    f.subs.add(sub);
  }

  private unsubscribe(id: string, sub: Sub): void {
    const key = this.o.keys.stream(id);
    const f = this.followed.get(key);
    if (!f) return;
    f.subs.delete(sub);
    if (!f.subs.size) this.followed.delete(key);
  }

  /** Makes the blocked XREAD return so the next one covers the streams followed since. */
  private wakePoller(): void {
    this.pollGen++;
    if (!this.polling || this.pollerId === undefined || !this.o.link.up) return;
    const gen = this.pollGen;
    const attempt = (n: number) => {
      this.o.link.client.call('CLIENT', 'UNBLOCK', this.pollerId!).then(
        (unblocked) => {
          // The UNBLOCK may overtake the XREAD it is meant for (two connections): try again briefly.
          if (unblocked === 0 && n < 5 && this.polling && this.pollGen === gen) setTimeout(() => attempt(n + 1), 2 * (n + 1)).unref();
        },
        (err: Error) => {
          // Some managed services refuse CLIENT UNBLOCK: fall back to short blocking reads, so a
          // newly followed stream joins the XREAD within a quarter second instead of at once.
          if (/NOPERM|unknown|not allowed|disabled/i.test(err.message) && !this.noUnblock) {
            this.noUnblock = true;
            this.o.logger?.warn({ store: this.o.link.where, err: err.message }, `CLIENT UNBLOCK is not available: live follow polls every ${SHORT_BLOCK_MS} ms`);
          }
        },
      );
    };
    attempt(0);
  }

  private async poll(): Promise<void> {
    const { poller, link, inbox } = this.o;
    while (!this.closed) {
      if (poller.status !== 'ready' || !link.usable) {
        await new Promise((r) => setTimeout(r, 100).unref());
        continue;
      }
      const keys = [inbox.key, ...this.followed.keys()];
      const ids = [this.inboxLastId, ...[...this.followed.values()].map((f) => f.lastId)];
      let res: unknown;
      this.polling = true;
      try {
        res = await poller.call('XREAD', 'COUNT', String(XREAD_COUNT), 'BLOCK', String(this.noUnblock ? SHORT_BLOCK_MS : BLOCK_MS), 'STREAMS', ...keys, ...ids);
      } catch (err) {
        if (this.closed) return;
        link.noteError(err as Error);
        await new Promise((r) => setTimeout(r, 100).unref());
        continue;
      } finally {
        this.polling = false;
      }
      if (!Array.isArray(res)) continue;
      const now = Date.now();
      for (const [key, entries] of res as [string, StreamEntry[]][]) {
        if (!entries.length) continue;
        const lastId = entries.at(-1)![0];
        if (key === inbox.key) {
          this.inboxLastId = lastId;
          inbox.receive(entries);
          continue;
        }
        const f = this.followed.get(key);
        if (!f) continue;
        if (entryIdAfter(lastId, f.lastId)) f.lastId = lastId;
        f.lastActivity = now;
        const events = eventsOf(entries);
        for (const sub of f.subs) {
          if (sub.queue.length + events.length > SUB_QUEUE_MAX) {
            sub.queue.length = 0;
            sub.stale = true;
          } else for (const ev of events) sub.queue.push(ev);
          sub.wake?.();
        }
      }
    }
  }

  /**
   * Followed streams that have been quiet for a lease: their owner may be gone. One takeover
   * attempt per stream (not per subscriber), and a re-read by every subscriber as a safety net.
   */
  private sweep(): void {
    if (!this.o.link.up) return;
    const now = Date.now();
    for (const f of this.followed.values()) {
      if (f.checking || now - f.lastActivity < this.o.leaseMs) continue;
      f.checking = true;
      f.lastActivity = now;
      this.o
        .takeover(f.id)
        .then((t) => {
          for (const sub of f.subs) {
            if (t.status === 'unknown') sub.gone = true;
            sub.stale = true;
            sub.wake?.();
          }
        })
        .catch(() => undefined)
        .finally(() => (f.checking = false));
    }
  }

  /** Ends every follow (their iterators return), stops the poll loop and drops its connection. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const f of this.followed.values()) for (const sub of f.subs) sub.wake?.();
    this.o.poller.disconnect();
    await this.loop.catch(() => undefined);
  }
}
