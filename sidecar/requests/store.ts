// Where async records and idempotency keys live: in this process (AsyncRegistry, the default) or
// beside the event streams in Redis (RedisAsyncStore), so that any replica can poll, cancel or
// complete a request another one runs, and an Idempotency-Key holds across replicas.
// The process that runs a request keeps the live record object and its exchange (AsyncService);
// the store holds what others may read.
import type { AsyncRecord, ControlMessage } from './types.ts';

export type StoreRead = { status: 'ok'; record: AsyncRecord } | { status: 'gone' } | { status: 'unknown' };

/** What an idempotent submission found: nothing (created) or the request that already holds the key. */
export type Created = { status: 'created' } | { status: 'exists'; id: string; bodyHash: string };

export interface AsyncStore {
  /** Why submissions cannot be kept right now (the store is unreachable), or undefined. */
  unavailable(): string | undefined;
  /** The request an Idempotency-Key already names, if it is still kept. */
  findKey(key: string): Promise<{ id: string; bodyHash: string } | undefined>;
  /** Keeps a new record; with an idempotency key, atomically: if another submission holds the key, that one wins. */
  create(record: AsyncRecord): Promise<Created>;
  get(id: string): Promise<StoreRead>;
  /** Persists the state of a record this process runs (already changed in place); never waits. */
  put(record: AsyncRecord): void;
  /**
   * Shared stores: ends a request whose owning sidecar is gone (failed, reason sidecar_restarted);
   * 'taken' if this call did it.
   */
  takeover?(id: string): Promise<'taken' | 'alive' | 'ended' | 'unknown'>;
  /** Shared stores: hands a cancel or a /complete to the process that runs the request. */
  forward?(owner: string, msg: ControlMessage): Promise<void>;
  /** Shared stores: this process's identity as a request owner. */
  readonly owner?: string;
  configure(ttlMs: number, maxRecords: number): void;
  close(): void;
}
