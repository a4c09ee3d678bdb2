// Stored responses (`store: true`, the Responses API's default): what `previous_response_id`
// continues from and `GET /v1/responses/{id}` answers, for responses the sidecar answered in the
// foreground. Background responses live on the async machinery (records and journal) instead.
// Kept in this process's memory (MemoryResponseStore, bounded like the journal) or beside the
// journal in Redis (redis-store.ts), so that a conversation can continue on any replica.
import type { JsonObject } from '../chat/types.ts';

export interface StoredResponse {
  id: string;
  /** The response object as its client got it. */
  response: JsonObject;
  /** The whole conversation up to and including this response, as Responses input items (reasoning proofs included). */
  items: JsonObject[];
  /** Its output items with their ids and reasoning proofs: what an `item_reference` to one of them stands for. */
  output: JsonObject[];
  /** The backend that keeps this response itself (an OpenAI Responses upstream): a continuation there is handed the id. */
  keptBy?: string;
  /** Epoch ms. */
  createdAt: number;
}

export type StoredRead = { status: 'ok'; stored: StoredResponse } | { status: 'deleted' } | { status: 'unknown' };

export interface ResponseStore {
  get(id: string): Promise<StoredRead>;
  /** Keeps a response; never waits (a shared store writes in the background, and reads its own pending writes). */
  put(r: StoredResponse): void;
  /** Forgets a response (`DELETE /v1/responses/{id}`) and remembers, for the retention, that it was deleted. */
  delete(id: string): Promise<void>;
  /** Retention: the journal's, so a stored response lasts as long as its events. */
  configure(ttlMs: number, maxRecords: number, maxBytes: number): void;
  close(): void;
}

/** Part of the journal's byte budget that stored conversations may take in memory (they hold whole transcripts). */
export const STORE_SHARE_OF_JOURNAL_BYTES = 0.5;

interface Entry {
  stored: StoredResponse;
  bytes: number;
}

/**
 * In memory, bounded by count, bytes (half the journal's budget: a stored response carries its
 * whole conversation) and age; oldest first out. Deleted ids are remembered (bounded) so a read
 * says "deleted" rather than "unknown".
 */
export class MemoryResponseStore implements ResponseStore {
  private readonly entries = new Map<string, Entry>();
  private readonly deleted = new Set<string>();
  private bytes = 0;
  private ttlMs: number;
  private maxRecords: number;
  private maxBytes: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(ttlMs: number, maxRecords: number, maxBytes: number) {
    this.ttlMs = ttlMs;
    this.maxRecords = maxRecords;
    this.maxBytes = maxBytes;
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(5000, Math.max(250, ttlMs / 4)));
    this.sweeper.unref();
  }

  configure(ttlMs: number, maxRecords: number, maxBytes: number): void {
    this.ttlMs = ttlMs;
    this.maxRecords = maxRecords;
    this.maxBytes = maxBytes;
  }

  async get(id: string): Promise<StoredRead> {
    const e = this.entries.get(id);
    if (e) return { status: 'ok', stored: e.stored };
    return { status: this.deleted.has(id) ? 'deleted' : 'unknown' };
  }

  put(stored: StoredResponse): void {
    // UTF-16 in memory: two bytes a character, roughly, for the transcript's text.
    const bytes = 2 * JSON.stringify(stored).length;
    if (bytes > this.maxBytes) return; // larger than the whole budget: not kept (a continuation of it gets a clear 400)
    this.drop(stored.id);
    this.entries.set(stored.id, { stored, bytes });
    this.bytes += bytes;
    for (const [id] of this.entries) {
      if (this.entries.size <= this.maxRecords && this.bytes <= this.maxBytes) break;
      this.drop(id);
    }
  }

  async delete(id: string): Promise<void> {
    this.drop(id);
    this.deleted.add(id);
    if (this.deleted.size > Math.max(1000, this.maxRecords)) this.deleted.delete(this.deleted.values().next().value!);
  }

  private drop(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.bytes -= e.bytes;
  }

  private sweep(now: number): void {
    for (const [id, e] of this.entries) {
      if (now - e.stored.createdAt <= this.ttlMs) break; // insertion order is age order
      this.drop(id);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
