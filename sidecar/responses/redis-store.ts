// Stored responses in Redis, beside the journal (over its connection): P resp:<id> holds the
// StoredResponse as JSON, or "deleted" after a DELETE, with the journal's TTL. Writes never wait;
// until Redis has one, this process answers reads of it from the write itself, so a client that
// continues a conversation the moment its stream ended finds the turn it just got.
import type { RedisJournal } from '../events/redis/journal.ts';
import type { ResponseStore, StoredRead, StoredResponse } from './store.ts';

const DELETED = 'deleted';

export class RedisResponseStore implements ResponseStore {
  private readonly journal: RedisJournal;
  private ttlMs: number;
  /** Writes not yet acknowledged by Redis (bounded by what this process answers at a time). */
  private readonly pending = new Map<string, StoredResponse | typeof DELETED>();

  constructor(journal: RedisJournal, ttlMs: number) {
    this.journal = journal;
    this.ttlMs = ttlMs;
  }

  private key(id: string): string {
    return `${this.journal.keyPrefix}resp:${id}`;
  }

  configure(ttlMs: number): void {
    this.ttlMs = ttlMs;
  }

  async get(id: string): Promise<StoredRead> {
    const local = this.pending.get(id);
    if (local !== undefined) return local === DELETED ? { status: 'deleted' } : { status: 'ok', stored: local };
    const down = this.journal.unavailable();
    if (down) throw this.journal.storeError(down);
    let text: string | null;
    try {
      text = await this.journal.client.get(this.key(id));
    } catch (err) {
      throw this.journal.storeError(undefined, err);
    }
    if (text === null) return { status: 'unknown' };
    if (text === DELETED) return { status: 'deleted' };
    return { status: 'ok', stored: JSON.parse(text) as StoredResponse };
  }

  private write(id: string, value: StoredResponse | typeof DELETED): Promise<void> {
    this.pending.set(id, value);
    const text = value === DELETED ? DELETED : JSON.stringify(value);
    return this.journal.client
      .set(this.key(id), text, 'PX', this.ttlMs)
      .then(
        () => undefined,
        () => undefined, // unreachable store: the response is not kept, and a continuation gets a clear 400
      )
      .finally(() => {
        if (this.pending.get(id) === value) this.pending.delete(id);
      });
  }

  put(stored: StoredResponse): void {
    void this.write(stored.id, stored);
  }

  async delete(id: string): Promise<void> {
    await this.write(id, DELETED);
  }

  close(): void {
    // the journal owns the connection
  }
}
