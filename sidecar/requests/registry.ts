// Async requests' records (types.ts: status, result and callback state) and the idempotency
// keys that make submission safe to retry. AsyncRegistry keeps them in memory, bounded and
// time-limited like the journal: the default AsyncStore (store.ts); redis-store.ts keeps them
// beside the event streams.
import type { AsyncStore, Created, StoreRead } from './store.ts';
import { FINISHED, type AsyncRecord } from './types.ts';

/** The JSON a client polls. */
export function publicView(r: AsyncRecord): Record<string, unknown> {
  return {
    id: r.id,
    object: 'airoute.request',
    status: r.status,
    model: r.model,
    created_at: new Date(r.createdAt).toISOString(),
    updated_at: new Date(r.updatedAt).toISOString(),
    attempts: r.attempts,
    ...(r.result !== undefined ? { result: r.result } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.callback
      ? { callback: { url: r.callback.url, await: r.callback.await, delivery: r.callback.delivery, ...(r.callback.payload !== undefined ? { payload: r.callback.payload } : {}) } }
      : {}),
  };
}

export class AsyncRegistry implements AsyncStore {
  private readonly records = new Map<string, AsyncRecord>();
  private readonly byKey = new Map<string, { id: string; bodyHash: string }>();
  private readonly gone = new Set<string>();
  private readonly sweeper: NodeJS.Timeout;
  ttlMs: number;
  maxRecords: number;

  constructor(ttlMs: number, maxRecords: number) {
    this.ttlMs = ttlMs;
    this.maxRecords = maxRecords;
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(5000, Math.max(250, ttlMs / 4)));
    this.sweeper.unref();
  }

  unavailable(): string | undefined {
    return undefined;
  }

  configure(ttlMs: number, maxRecords: number): void {
    this.ttlMs = ttlMs;
    this.maxRecords = maxRecords;
  }

  async get(id: string): Promise<StoreRead> {
    const record = this.records.get(id);
    if (record) return { status: 'ok', record };
    return { status: this.gone.has(id) ? 'gone' : 'unknown' };
  }

  async findKey(key: string): Promise<{ id: string; bodyHash: string } | undefined> {
    return this.byIdempotencyKey(key);
  }

  private byIdempotencyKey(key: string): { id: string; bodyHash: string } | undefined {
    const hit = this.byKey.get(key);
    if (hit && !this.records.has(hit.id)) {
      this.byKey.delete(key);
      return undefined;
    }
    return hit;
  }

  async create(record: AsyncRecord): Promise<Created> {
    if (record.idempotencyKey) {
      const seen = this.byIdempotencyKey(record.idempotencyKey);
      if (seen) return { status: 'exists', ...seen };
      this.byKey.set(record.idempotencyKey, { id: record.id, bodyHash: record.bodyHash });
    }
    this.records.set(record.id, record);
    if (this.records.size > this.maxRecords) this.evictFinished(this.records.size - this.maxRecords);
    return { status: 'created' };
  }

  /** The record object is the one the service changes in place: nothing to copy. */
  put(_record: AsyncRecord): void {}

  private evictFinished(n: number): void {
    for (const r of this.records.values()) {
      if (n <= 0) return;
      if (!FINISHED.has(r.status)) continue;
      this.drop(r);
      n--;
    }
  }

  private drop(r: AsyncRecord): void {
    this.records.delete(r.id);
    if (r.idempotencyKey) this.byKey.delete(r.idempotencyKey);
    this.gone.add(r.id);
    if (this.gone.size > Math.max(1000, this.maxRecords * 4)) {
      const oldest = this.gone.values().next().value;
      if (oldest !== undefined) this.gone.delete(oldest);
    }
  }

  private sweep(now: number): void {
    for (const r of this.records.values()) if (FINISHED.has(r.status) && now - r.updatedAt > this.ttlMs) this.drop(r);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
