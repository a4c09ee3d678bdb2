// A time-bucketed sliding window of counters: O(1) per record, bounded memory, no timers.
export class SlidingWindow<K extends string> {
  private readonly buckets: Record<K, number>[];
  private readonly bucketMs: number;
  private readonly keys: readonly K[];
  private current = 0;
  private currentStart = 0;

  constructor(keys: readonly K[], windowMs: number, bucketCount = 10) {
    this.keys = keys;
    this.bucketMs = Math.max(1, Math.floor(windowMs / bucketCount));
    this.buckets = Array.from({ length: bucketCount }, () => this.zero());
  }

  private zero(): Record<K, number> {
    const z = {} as Record<K, number>;
    for (const k of this.keys) z[k] = 0;
    return z;
  }

  private advance(now: number): void {
    if (this.currentStart === 0) {
      this.currentStart = now;
      return;
    }
    const steps = Math.floor((now - this.currentStart) / this.bucketMs);
    if (steps <= 0) return;
    const n = this.buckets.length;
    for (let i = 1; i <= Math.min(steps, n); i++) this.buckets[(this.current + i) % n] = this.zero();
    this.current = (this.current + steps) % n;
    this.currentStart += steps * this.bucketMs;
  }

  add(key: K, now = Date.now(), by = 1): void {
    this.advance(now);
    this.buckets[this.current]![key] += by;
  }

  sum(key: K, now = Date.now()): number {
    this.advance(now);
    let s = 0;
    for (const b of this.buckets) s += b[key];
    return s;
  }

  reset(): void {
    for (let i = 0; i < this.buckets.length; i++) this.buckets[i] = this.zero();
  }
}
