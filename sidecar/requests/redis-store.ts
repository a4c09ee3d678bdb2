// Async records and idempotency keys in Redis, beside the event streams (see
// sidecar/events/redis/keys.ts for the key layout), over the journal's connection.
//
// A record lives in the request's meta hash P{id}:h:
//   r   the record's JSON as its owner last wrote it      st  its status (what Lua scripts read and change)
//   f   the endpoint format (openai | anthropic)           ik  the idempotency key's Redis key, if any
//   te, tu, ta  error, update time and attempts written by a takeover (they win over `r`)
// An Idempotency-Key is P:idem:<sha256(key)> = "<id>\n<bodyHash>", claimed atomically with the
// record's creation, so two replicas given the same key at the same moment agree on one request.
// State changes by the owner go through the journal's ordered write queue: a record never says
// "completed" after its terminal event has been followed by a reader, and a write lost with the
// connection is retried like the events.
import { createHash } from 'node:crypto';
import type { RedisJournal } from '../events/redis/journal.ts';
import type { AsyncStore, Created, StoreRead } from './store.ts';
import { FINISHED, type AsyncRecord, type ControlMessage } from './types.ts';

/** KEYS: meta, idempotency key (or meta). ARGV: id, json, bodyHash, ttl (in flight), owner, has key (1/0), prefix, format. */
const CREATE_LUA = `
if ARGV[6] == '1' then
  local seen = redis.call('GET', KEYS[2])
  if seen then
    local nl = string.find(seen, '\\n', 1, true)
    local sid = string.sub(seen, 1, nl - 1)
    if redis.call('HEXISTS', ARGV[7] .. '{' .. sid .. '}:h', 'r') == 1 then
      return {'exists', sid, string.sub(seen, nl + 1)}
    end
  end
  redis.call('SET', KEYS[2], ARGV[1] .. '\\n' .. ARGV[3], 'PX', ARGV[4])
  redis.call('HSET', KEYS[1], 'ik', KEYS[2])
end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'st', 'running', 'o', ARGV[5], 'f', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'created'}
`;

/** KEYS: idempotency key. ARGV: prefix. The request it names, if its record is still kept. */
const FIND_KEY_LUA = `
local seen = redis.call('GET', KEYS[1])
if not seen then return false end
local nl = string.find(seen, '\\n', 1, true)
local sid = string.sub(seen, 1, nl - 1)
if redis.call('HEXISTS', ARGV[1] .. '{' .. sid .. '}:h', 'r') == 0 then return false end
return {sid, string.sub(seen, nl + 1)}
`;

interface StoreScripts {
  airouteCreate(...args: string[]): Promise<string[]>;
  airouteFindKey(...args: string[]): Promise<[string, string] | null>;
}

export class RedisAsyncStore implements AsyncStore {
  private readonly journal: RedisJournal;
  private ttlMs: number;

  constructor(journal: RedisJournal, ttlMs: number) {
    this.journal = journal;
    this.ttlMs = ttlMs;
    journal.client.defineCommand('airouteCreate', { numberOfKeys: 2, lua: CREATE_LUA });
    journal.client.defineCommand('airouteFindKey', { numberOfKeys: 1, lua: FIND_KEY_LUA });
  }

  get owner(): string {
    return this.journal.instance;
  }

  private get scripts(): StoreScripts {
    return this.journal.client as unknown as StoreScripts;
  }

  idemKey(key: string): string {
    return `${this.journal.keyPrefix}idem:${createHash('sha256').update(key).digest('hex')}`;
  }

  unavailable(): string | undefined {
    return this.journal.unavailable();
  }

  configure(ttlMs: number): void {
    this.ttlMs = ttlMs;
  }

  private async io<T>(f: () => Promise<T>): Promise<T> {
    const down = this.journal.unavailable();
    if (down) throw this.journal.storeError(down);
    try {
      return await f();
    } catch (err) {
      throw this.journal.storeError(undefined, err);
    }
  }

  async findKey(key: string): Promise<{ id: string; bodyHash: string } | undefined> {
    const hit = await this.io(() => this.scripts.airouteFindKey(this.idemKey(key), this.journal.keyPrefix));
    return hit ? { id: hit[0], bodyHash: hit[1] } : undefined;
  }

  async create(record: AsyncRecord): Promise<Created> {
    const key = record.idempotencyKey ? this.idemKey(record.idempotencyKey) : undefined;
    const meta = this.journal.keys.meta(record.id);
    const res = await this.io(() =>
      this.scripts.airouteCreate(meta, key ?? meta, record.id, JSON.stringify(record), record.bodyHash, String(2 * this.ttlMs), this.owner, key ? '1' : '0', this.journal.keyPrefix, record.format),
    );
    return res[0] === 'exists' ? { status: 'exists', id: res[1]!, bodyHash: res[2]! } : { status: 'created' };
  }

  async get(id: string): Promise<StoreRead> {
    await this.journal.settled();
    const h = await this.io(() => this.journal.client.hgetall(this.journal.keys.meta(id)));
    if (!h.r) return { status: 'unknown' };
    const record = JSON.parse(h.r) as AsyncRecord;
    if (h.st) record.status = h.st as AsyncRecord['status'];
    if (h.te) record.error = JSON.parse(h.te) as unknown;
    if (h.tu) record.updatedAt = Number(h.tu);
    if (h.ta) record.attempts = Math.max(record.attempts, Number(h.ta));
    return { status: 'ok', record };
  }

  put(record: AsyncRecord): void {
    this.journal.writeRecord({
      id: record.id,
      json: JSON.stringify(record),
      status: record.status,
      finished: FINISHED.has(record.status),
      idemKey: record.idempotencyKey ? this.idemKey(record.idempotencyKey) : undefined,
    });
  }

  async takeover(id: string): Promise<'taken' | 'alive' | 'ended' | 'unknown'> {
    return (await this.journal.takeover(id)).status;
  }

  async forward(owner: string, msg: ControlMessage): Promise<void> {
    await this.journal.sendControl(owner, msg);
  }

  close(): void {
    // the journal owns the connections
  }
}
