// A controller work queue (client-go's workqueue semantics, small):
//  - de-duplication: a key waiting in the queue is there once, however often it is added;
//  - per-key serialisation: a key being processed is never handed to a second worker; if it is
//    added meanwhile it runs again after the current run ends (so no change is lost);
//  - rate-limited requeue: per-key exponential backoff on failure, reset by forget();
//  - delayed adds (requeue after N ms), where an earlier due time wins.
export interface RateLimit {
  baseMs: number;
  maxMs: number;
}

export type Outcome = { requeueAfterMs?: number } | void;

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: (() => void)[] = [];
  private readonly limit: RateLimit;
  private shuttingDown = false;
  private readonly onDepth: (depth: number) => void;

  constructor(limit: RateLimit = { baseMs: 5, maxMs: 30_000 }, onDepth: (depth: number) => void = () => {}) {
    this.limit = limit;
    this.onDepth = onDepth;
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    // A key being processed is re-queued when its run ends (done()), never run twice at once.
    if (!this.processing.has(key)) {
      this.queue.push(key);
      this.onDepth(this.queue.length);
      this.waiters.shift()?.();
    }
  }

  addAfter(key: string, ms: number, now = Date.now()): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = now + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  /** Requeues after this key's next backoff step: baseMs · 2^failures, capped. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.limit.maxMs, this.limit.baseMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  private async next(): Promise<string | undefined> {
    while (!this.queue.length) {
      if (this.shuttingDown) return undefined;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    const key = this.queue.shift()!;
    this.onDepth(this.queue.length);
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  private done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.onDepth(this.queue.length);
      this.waiters.shift()?.();
    }
  }

  /** Runs `workers` loops until shutdown(); a throwing handler requeues its key rate-limited. */
  run(workers: number, handler: (key: string) => Promise<Outcome>, onError: (key: string, err: unknown) => void): Promise<void> {
    const loop = async () => {
      for (;;) {
        const key = await this.next();
        if (key === undefined) return;
        try {
          const out = await handler(key);
          this.forget(key);
          if (out && out.requeueAfterMs !== undefined) this.addAfter(key, out.requeueAfterMs);
        } catch (err) {
          onError(key, err);
          this.addRateLimited(key);
        } finally {
          this.done(key);
        }
      }
    };
    return Promise.all(Array.from({ length: workers }, loop)).then(() => undefined);
  }

  /** Stops handing out keys; running handlers finish (await the promise run() returned). */
  shutdown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w();
  }
}
