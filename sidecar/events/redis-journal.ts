// The event journal on Redis Streams: a request's lifecycle outlives the sidecar process that
// ran it and can be read and followed from any replica sharing the Redis. Same `Journal`
// interface as the in-memory journal; chosen by `journal: {type: redis}` at start.
//
// Keys (P = keyPrefix; `{id}` is a hash tag so that one request's keys share a cluster slot):
//   P{id}:s             the request's events: one stream entry per event, entry id `<seq>-0`, field `e` = the event's JSON
//   P{id}:h             the request's meta: o = owner (sidecar instance), c = created (ms), e = seq of the terminal
//                       event once written, tk = the instance that wrote a takeover; for async requests also the
//                       record (r, st, f, ik, te, tu, ta: see sidecar/requests/redis-store.ts)
//   P:live              sorted set id -> created ms: the count bound (maxRequests) and, after expiry, "gone" (410) vs "unknown" (404)
//   P:gone              sorted set of ids evicted by the count bound (bounded): they read as gone too
//   P:lease:<instance>  a sidecar process's heartbeat (PX ownerLeaseMs): while it exists, that process owns its requests
//   P:ctl:<instance>    control messages for one process (a cancel or a /complete that reached another replica)
//
// Entry ids: the event's seq. A stream entry id is `<ms>-<n>`, and Redis refuses an XADD whose
// explicit id is not greater than the stream's last one (it remembers the last id even after
// trimming). We add each event as `<seq>-0`, so:
//  - appends are idempotent: a write retried after its reply was lost (the connection dropped
//    between Redis applying it and us reading the answer) is refused as "equal or smaller" and
//    counted as a duplicate, never stored twice;
//  - replay needs no index: `XRANGE P{id}:s <after+1> +` is exactly "the events after seq
//    `after`", and `XREAD ... <after>-0` follows from there;
//  - a gap (events dropped while Redis was unreachable and the local buffer was full) shows as a
//    jump in seq that readers see and clients flag, never as a silent renumbering.
//
// Hot path: append() only queues; the queue is written as one pipeline per turn of the event
// loop, one batch in flight at a time, in order, on one connection. While Redis is unreachable
// the queue holds up to a bound and is written (retried) on reconnect; past the bound events are
// dropped and counted (`stats().dropped`, the airoute_journal_dropped_total metric).
//
// Live follow: one extra connection per process runs a blocking XREAD over every stream someone
// on this process follows (plus its own control stream), and fans each entry out to those
// subscribers; adding a stream wakes the blocked XREAD with CLIENT UNBLOCK. Subscribers never
// hold a connection of their own.
//
// Takeover: a request whose owner's lease is gone and that has no terminal event is ended by
// whichever sidecar next reads it, with one `request.failed` (reason `sidecar_restarted`),
// appended by a Lua script that checks the lease, the missing terminal event and the next seq
// atomically, so two readers racing cannot both write it.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { AirouteError } from '../errors.ts';
import { JournalGone, JournalUnknown, type Journal, type JournalStats, type ReadResult, type Retention } from './journal.ts';
import { TERMINAL_EVENTS, type LifecycleEvent } from './types.ts';

export const DEFAULT_OWNER_LEASE_MS = 10_000;
export const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** Terminal events get this much room past a full buffer: losing the end of a story hurts most. */
const TERMINAL_RESERVE = 1_000;
const MAX_BATCH = 2_000;
/** Events per script call: bounds how long one call holds Redis (about a millisecond). */
const MAX_CALL = 400;
const READ_PAGE = 1_000;
/** A subscriber that falls further behind than this re-reads from Redis instead of queueing more. */
const SUB_QUEUE_MAX = 2_000;
const BLOCK_MS = 5_000;

export interface RedisJournalOptions {
  /** redis://[user@]host[:port][/db] or rediss:// (TLS). */
  url: string;
  password?: string;
  keyPrefix: string;
  retention: Retention;
  /** How long a sidecar's requests stay its own after its last heartbeat. */
  ownerLeaseMs?: number;
  maxBufferedEvents?: number;
  maxBufferedBytes?: number;
  logger?: Logger;
  /** This process's identity as an owner (default: host/pid/random). */
  instance?: string;
  /** Why the journal cannot work at all (e.g. its password could not be resolved); reported as unavailable. */
  configError?: string;
}

export type ControlMessage = { op: 'cancel'; id: string } | { op: 'complete'; id: string; payload: unknown };

export type Takeover = { status: 'taken'; event: LifecycleEvent } | { status: 'alive' | 'ended' | 'unknown' };

export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
};

/** ioredis options from a redis:// or rediss:// URL. The password never comes from the URL (config validation refuses it there). */
export function connectionOptions(url: string, password: string | undefined, name: string): RedisOptions {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`journal.url must be redis:// or rediss://, got ${u.protocol}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`journal.url: "${u.pathname}" is not a database number`);
  return {
    host,
    port: u.port ? Number(u.port) : 6379,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(password !== undefined ? { password } : {}),
    // Server certificates are verified (Node's defaults); a private CA comes in through NODE_EXTRA_CA_CERTS.
    ...(u.protocol === 'rediss:' ? { tls: /^[\d.]+$|:/.test(host) ? {} : { servername: host } } : {}),
    // RESP2: the reply shapes every Redis-compatible service speaks the same way.
    protocol: 2,
    connectionName: name,
    // We keep our own bounded buffer and retry it ourselves, idempotently: commands never wait in
    // ioredis's unbounded offline queue, and a command whose connection dropped fails at once.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: 5_000,
    retryStrategy: (times: number) => Math.min(2_000, 50 * 2 ** Math.min(times, 6)),
  };
}

// ------------------------------------------------------------------------------ Lua

/**
 * Appends events of several requests, each request's in order. KEYS: live, gone. ARGV: maxlen,
 * ttlMs, now, owner, maxRequests, prefix, goneCap, then per request: id, n, and n times
 * (seq, json, terminal 1/0). Returns {evicted, code per event in ARGV order}: 1 added, 0 already
 * there (a retried write), -1 the request already ended (another sidecar took it over: this
 * process must stop writing for it).
 * One call per batch rather than per event: the per-command cost is what bounds throughput. The
 * request keys are built here from the prefix, so this needs a single Redis (primary/replicas,
 * Valkey, a managed non-cluster service), not Redis Cluster.
 */
const APPEND_LUA = `
local maxlen, ttl, now, owner, prefix = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[6]
local res = {0}
local i = 8
while i <= #ARGV do
  local id, n = ARGV[i], tonumber(ARGV[i + 1])
  local s, h = prefix .. '{' .. id .. '}:s', prefix .. '{' .. id .. '}:h'
  local ended = redis.call('HGET', h, 'e')
  local e = ended and tonumber(ended)
  local added, terminal = 0, nil
  for k = 0, n - 1 do
    local j = i + 2 + 3 * k
    local seq = ARGV[j]
    local code = 1
    if e then
      -- after the terminal event: an older seq, or our own terminal event again, is a retried write;
      -- anything else comes from a process whose request another sidecar already ended
      local q = tonumber(seq)
      if q < e or (q == e and redis.call('HEXISTS', h, 'tk') == 0) then code = 0 else code = -1 end
    else
      local r = redis.pcall('XADD', s, 'MAXLEN', maxlen, seq .. '-0', 'e', ARGV[j + 1])
      if type(r) == 'table' and r.err then
        if string.find(r.err, 'equal or smaller', 1, true) then code = 0 else return redis.error_reply(r.err) end
      else
        added = added + 1
        if ARGV[j + 2] == '1' then terminal = seq; e = tonumber(seq) end
      end
    end
    res[#res + 1] = code
  end
  if added > 0 and redis.call('HSETNX', h, 'c', ARGV[3]) == 1 then
    -- the request's first events here: expiry, owner, and the count bound over all requests
    redis.call('HSET', h, 'o', owner)
    redis.call('PEXPIRE', s, 2 * ttl)
    redis.call('PEXPIRE', h, 2 * ttl)
    redis.call('ZADD', KEYS[1], now, id)
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 4 * ttl)
    local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[5])
    if over > 0 then
      local old = redis.call('ZRANGE', KEYS[1], 0, over - 1)
      for _, o in ipairs(old) do
        if o ~= id then
          redis.call('DEL', prefix .. '{' .. o .. '}:s', prefix .. '{' .. o .. '}:h')
          redis.call('ZREM', KEYS[1], o)
          redis.call('ZADD', KEYS[2], now, o)
          res[1] = res[1] + 1
        end
      end
      local g = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[7])
      if g > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, g - 1) end
    end
  end
  if terminal then
    redis.call('HSET', h, 'e', terminal)
    redis.call('PEXPIRE', s, ttl)
    redis.call('PEXPIRE', h, ttl)
  end
  i = i + 2 + 3 * n
end
return res
`;

/**
 * Writes an async record's current state (the owner's copy). KEYS: meta, idempotency key (or meta again).
 * ARGV: json, status, finished (1/0), ttlMs, has idempotency key (1/0), instance.
 * Returns 1 written, 0 the request's keys are gone (not resurrected), -1 another sidecar took it over.
 */
const RECORD_LUA = `
local tk = redis.call('HGET', KEYS[1], 'tk')
if tk and tk ~= ARGV[6] then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'st', ARGV[2])
if ARGV[3] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  if ARGV[5] == '1' then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
end
return 1
`;

/**
 * Ends a request whose owner is gone. KEYS: stream, meta.
 * ARGV: id, now, ttlMs, lease key prefix, taker instance, message, record error (openai), record error (anthropic), maxlen.
 * Returns {'taken', eventJson} | {'alive'} | {'ended'} | {'unknown'}.
 */
const TAKEOVER_LUA = `
local owner = redis.call('HGET', KEYS[2], 'o')
if not owner then return {'unknown'} end
if redis.call('HEXISTS', KEYS[2], 'e') == 1 then return {'ended'} end
if redis.call('EXISTS', ARGV[4] .. owner) == 1 then return {'alive'} end
local seq, attempt, ts = 0, 0, tonumber(ARGV[2])
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  seq = tonumber(string.match(last[1][1], '^(%d+)'))
  local ok, prev = pcall(cjson.decode, last[1][2][2])
  if ok and type(prev) == 'table' then
    if type(prev.attempt) == 'number' then attempt = prev.attempt end
    if type(prev.ts) == 'number' and prev.ts > ts then ts = prev.ts end
  end
end
seq = seq + 1
local n = function(x) return string.format('%.0f', x) end
local st = redis.call('HGET', KEYS[2], 'st')
local typ, data
if st == 'completed' then
  typ = 'request.completed'
  data = '{"attempts":' .. n(attempt) .. ',"recovered":true}'
elseif st == 'cancelled' then
  typ = 'request.cancelled'
  data = '{"reason":"cancelled","attempts":' .. n(attempt) .. ',"recovered":true}'
else
  typ = 'request.failed'
  data = '{"error":{"code":"unavailable","status":503,"message":' .. cjson.encode(ARGV[6]) .. ',"reason":"sidecar_restarted"},"attempts":' .. n(attempt) .. '}'
end
local ev = '{"requestId":' .. cjson.encode(ARGV[1]) .. ',"seq":' .. n(seq) .. ',"ts":' .. n(ts) .. ',"attempt":' .. n(attempt) .. ',"type":"' .. typ .. '","data":' .. data .. '}'
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[9], n(seq) .. '-0', 'e', ev)
redis.call('HSET', KEYS[2], 'e', n(seq), 'tk', ARGV[5])
if st and st ~= 'completed' and st ~= 'cancelled' and st ~= 'failed' then
  local format = redis.call('HGET', KEYS[2], 'f')
  redis.call('HSET', KEYS[2], 'st', 'failed', 'te', format == 'anthropic' and ARGV[8] or ARGV[7], 'tu', ARGV[2], 'ta', n(attempt))
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local ik = redis.call('HGET', KEYS[2], 'ik')
if ik then redis.call('PEXPIRE', ik, ARGV[3]) end
return {'taken', ev}
`;

interface Scripts {
  airouteAppend(...args: (string | number)[]): Promise<unknown>;
  airouteRecord(...args: (string | number)[]): Promise<unknown>;
  airouteTakeover(...args: (string | number)[]): Promise<unknown>;
}

// ------------------------------------------------------------------------------ helpers

type Op =
  | { kind: 'event'; ev: LifecycleEvent; size: number }
  | { kind: 'record'; id: string; json: string; status: string; finished: boolean; idemKey: string | undefined; size: number };

type Entry = [id: string, fields: string[]];

function parseEntry(e: Entry): LifecycleEvent | undefined {
  const f = e[1];
  for (let i = 0; i + 1 < f.length; i += 2) if (f[i] === 'e') return JSON.parse(f[i + 1]!) as LifecycleEvent;
  return undefined;
}

function seqOfId(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** Stream ids compared as (ms, n). */
function idAfter(a: string, b: string): boolean {
  const [am, an] = a.split('-').map(Number) as [number, number];
  const [bm, bn] = b.split('-').map(Number) as [number, number];
  return am > bm || (am === bm && an > bn);
}

/** Roughly what an event costs to buffer: a fixed overhead plus its text. */
function sizeOf(ev: LifecycleEvent): number {
  const text = ev.type === 'content.delta' ? ev.data.text : undefined;
  return 200 + (typeof text === 'string' ? text.length * 2 : 0);
}

const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|NOSCRIPT)/;

/** A reply error is Redis refusing the command itself; anything else (closed, aborted, timed out) is the connection. */
function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  if (e?.name === 'ReplyError') return TRANSIENT_REPLY.test(e.message ?? '');
  return true;
}

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

// ------------------------------------------------------------------------------ the journal

export class RedisJournal implements Journal {
  readonly instance: string;
  readonly keyPrefix: string;
  /** Commands and writes. */
  readonly client: Redis;
  /** The one blocking XREAD of this process. */
  private readonly poller: Redis;
  private retention: Retention;
  private readonly leaseMs: number;
  private readonly maxBufferedEvents: number;
  private readonly maxBufferedBytes: number;
  private readonly logger: Logger | undefined;
  private readonly where: string;
  private readonly configError: string | undefined;

  // the write queue: ops[head..] are not yet acknowledged
  private ops: Op[] = [];
  private head = 0;
  private bufferedBytes = 0;
  private bufferedEvents = 0;
  private writing = false;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Ops ever queued / ever settled (written, or given up): read-your-writes barriers wait on these. */
  private enqueued = 0;
  private settledCount = 0;
  private barriers: { mark: number; resolve: () => void }[] = [];

  private dropped = 0;
  private duplicates = 0;
  private evictions = 0;
  private gaps = 0;
  private cachedRequests = 0;
  private lastError: string | undefined;
  private lastErrorLog = 0;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly sweeper: NodeJS.Timeout;

  // live follow
  private readonly followed = new Map<string, Followed>();
  private readonly ctlKey: string;
  private ctlLastId = '0-0';
  private pollerId: string | undefined;
  private polling = false;
  /** The store refuses CLIENT UNBLOCK: block briefly instead. */
  private noUnblock = false;
  private pollGen = 0;
  private pollLoop: Promise<void>;
  private readonly lost = new Set<string>();

  /** Told when another sidecar ended one of this process's requests (its lease had lapsed). */
  onLost: (id: string) => void = () => undefined;
  /** Told when this process ended a request whose owner was gone (its webhook, if any, is then ours to send). */
  onTakenOver: (id: string) => void = () => undefined;
  /** Control messages other replicas sent to this process. */
  onControl: (msg: ControlMessage) => void = () => undefined;

  constructor(opts: RedisJournalOptions) {
    this.instance = opts.instance ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
    this.keyPrefix = opts.keyPrefix;
    this.retention = opts.retention;
    this.leaseMs = opts.ownerLeaseMs ?? DEFAULT_OWNER_LEASE_MS;
    this.maxBufferedEvents = opts.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.logger = opts.logger;
    this.where = redactUrl(opts.url);
    this.configError = opts.configError;
    this.ctlKey = `${this.keyPrefix}ctl:${this.instance}`;
    const options = connectionOptions(opts.url, opts.password, `airoute:${this.instance}`);
    // With a config error (an unresolvable password) the journal stays down and says why.
    this.client = new Redis({ ...options, lazyConnect: this.configError !== undefined });
    this.poller = new Redis({ ...options, connectionName: `airoute-follow:${this.instance}`, lazyConnect: this.configError !== undefined });
    this.client.defineCommand('airouteAppend', { numberOfKeys: 2, lua: APPEND_LUA });
    this.client.defineCommand('airouteRecord', { numberOfKeys: 2, lua: RECORD_LUA });
    this.client.defineCommand('airouteTakeover', { numberOfKeys: 2, lua: TAKEOVER_LUA });
    this.client.on('error', (err: Error) => this.noteError(err));
    this.poller.on('error', (err: Error) => this.noteError(err));
    this.client.on('ready', () => {
      this.logger?.info({ store: this.where, instance: this.instance }, 'journal store connected');
      this.lastError = undefined;
      this.beat();
      this.schedule();
    });
    this.client.on('close', () => this.releaseBarriers());
    this.poller.on('ready', () => {
      this.poller.call('CLIENT', 'ID').then(
        (id) => (this.pollerId = String(id)),
        () => undefined,
      );
    });
    this.heartbeat = setInterval(() => this.beat(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.heartbeat.unref();
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, Math.min(1_000, Math.floor(this.leaseMs / 2))));
    this.sweeper.unref();
    this.pollLoop = this.poll();
  }

  // ---------------------------------------------------------------------------- keys

  streamKey(id: string): string {
    return `${this.keyPrefix}{${id}}:s`;
  }
  metaKey(id: string): string {
    return `${this.keyPrefix}{${id}}:h`;
  }
  leaseKey(instance: string): string {
    return `${this.keyPrefix}lease:${instance}`;
  }
  private get liveKey(): string {
    return `${this.keyPrefix}live`;
  }
  private get goneKey(): string {
    return `${this.keyPrefix}gone`;
  }

  // ---------------------------------------------------------------------------- state

  get up(): boolean {
    return this.client.status === 'ready' && this.configError === undefined;
  }

  /** Resolves when the store answers, or after `timeoutMs` (then it keeps trying in the background). */
  async connected(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.up && !this.configError && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.up;
  }

  unavailable(): string | undefined {
    if (this.configError) return `journal store ${this.where} is not usable: ${this.configError}`;
    if (this.client.status === 'ready') return undefined;
    return `journal store ${this.where} is unreachable (${this.client.status}${this.lastError ? `: ${this.lastError}` : ''})`;
  }

  configure(retention: Retention): void {
    this.retention = retention;
  }

  stats(): JournalStats {
    return {
      requests: this.cachedRequests,
      events: this.bufferedEvents,
      bytes: this.bufferedBytes,
      evictions: this.evictions,
      dropped: this.dropped,
      pending: this.ops.length - this.head,
      duplicates: this.duplicates,
      up: this.up,
    };
  }

  /** Gaps readers on this process met (events dropped upstream of the store). */
  get gapsSeen(): number {
    return this.gaps;
  }

  private noteError(err: Error): void {
    this.lastError = err.message;
    const now = Date.now();
    // ioredis repeats the same error on every reconnect attempt: log it now and then, not each time.
    if (now - this.lastErrorLog > 5_000) {
      this.lastErrorLog = now;
      this.logger?.warn({ store: this.where, err: err.message }, 'journal store error');
    }
  }

  /** A failure to reach the store, as the error a client gets (503, retry soon). */
  private unavailableError(err?: unknown): AirouteError {
    const why = this.unavailable() ?? `journal store ${this.where} failed: ${(err as Error)?.message ?? 'unknown error'}`;
    return new AirouteError('unavailable', 503, why, { retryAfterMs: 1_000, cause: err });
  }

  /** A store failure as the error a client gets: 503 (retry soon) when the store cannot be reached; a refusal passes through. */
  storeError(reason?: string, err?: unknown): Error {
    if (err instanceof AirouteError) return err;
    if (err !== undefined && !isConnectionError(err)) return err as Error;
    return reason ? new AirouteError('unavailable', 503, reason, { retryAfterMs: 1_000 }) : this.unavailableError(err);
  }

  /** Runs a command, turning connection failures into a 503 AirouteError. */
  private async io<T>(f: () => Promise<T>): Promise<T> {
    if (!this.up) throw this.unavailableError();
    try {
      return await f();
    } catch (err) {
      if (isConnectionError(err)) throw this.unavailableError(err);
      throw err;
    }
  }

  private beat(): void {
    if (!this.up) return;
    this.client
      .pipeline()
      .call('SET', this.leaseKey(this.instance), String(Date.now()), 'PX', String(this.leaseMs))
      .call('ZCARD', this.liveKey)
      .exec()
      .then((res) => {
        const n = res?.[1]?.[1];
        if (typeof n === 'number') this.cachedRequests = n;
      })
      .catch(() => undefined);
  }

  // ---------------------------------------------------------------------------- writes

  append(ev: LifecycleEvent): void {
    if (this.closed) return;
    const pending = this.ops.length - this.head;
    const terminal = TERMINAL_EVENTS.has(ev.type);
    const size = sizeOf(ev);
    const room = terminal ? this.maxBufferedEvents + TERMINAL_RESERVE : this.maxBufferedEvents;
    if (pending >= room || (!terminal && this.bufferedBytes + size > this.maxBufferedBytes)) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0)
        this.logger?.warn({ store: this.where, dropped: this.dropped, pending }, 'journal store unreachable and the write buffer is full: events are dropped');
      return;
    }
    this.push({ kind: 'event', ev, size });
  }

  /** Queues an async record's state behind the events already queued (ordered with them, retried like them). */
  writeRecord(id: string, json: string, status: string, finished: boolean, idemKey: string | undefined): void {
    if (this.closed) return;
    this.push({ kind: 'record', id, json, status, finished, idemKey, size: 200 + json.length });
  }

  private push(op: Op): void {
    this.ops.push(op);
    this.enqueued++;
    this.bufferedBytes += op.size;
    if (op.kind === 'event') this.bufferedEvents++;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.writing || this.head >= this.ops.length || !this.up) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.writing || this.head >= this.ops.length || !this.up) return;
    this.writing = true;
    const batch = this.ops.slice(this.head, this.head + MAX_BATCH);
    const r = this.retention;
    const p = this.client.pipeline();
    const scripts = p as unknown as Scripts;
    // Events go in calls of up to MAX_CALL, grouped by request inside a call; a record write
    // closes the call so that each request's writes stay in queue order.
    type Call = { kind: 'events'; byRequest: Map<string, number[]>; size: number };
    type Cmd = Call | { kind: 'record'; op: number };
    const cmds: Cmd[] = [];
    let call: Call | undefined;
    batch.forEach((op, i) => {
      if (op.kind === 'record') {
        call = undefined;
        cmds.push({ kind: 'record', op: i });
        return;
      }
      if (!call || call.size >= MAX_CALL) {
        call = { kind: 'events', byRequest: new Map(), size: 0 };
        cmds.push(call);
      }
      const list = call.byRequest.get(op.ev.requestId);
      if (list) list.push(i);
      else call.byRequest.set(op.ev.requestId, [i]);
      call.size++;
    });
    const fixed = [String(r.maxEventsPerRequest), String(r.ttlMs), String(Date.now()), this.instance, String(r.maxRequests), this.keyPrefix, String(Math.max(1_000, r.maxRequests * 4))];
    /** Per command, the batch positions its codes answer, in reply order. */
    const order: number[][] = [];
    for (const c of cmds) {
      if (c.kind === 'events') {
        const args: string[] = [this.liveKey, this.goneKey, ...fixed];
        const positions: number[] = [];
        for (const [id, idx] of c.byRequest) {
          args.push(id, String(idx.length));
          for (const i of idx) {
            const ev = (batch[i] as Extract<Op, { kind: 'event' }>).ev;
            args.push(String(ev.seq), JSON.stringify(ev), TERMINAL_EVENTS.has(ev.type) ? '1' : '0');
            positions.push(i);
          }
        }
        scripts.airouteAppend(...args);
        order.push(positions);
      } else {
        const op = batch[c.op] as Extract<Op, { kind: 'record' }>;
        const meta = this.metaKey(op.id);
        scripts.airouteRecord(meta, op.idemKey ?? meta, op.json, op.status, op.finished ? '1' : '0', String(r.ttlMs), op.idemKey ? '1' : '0', this.instance);
        order.push([c.op]);
      }
    }
    /** Command results spread back over the ops: [error, [code, evictions]] per event, [error, code] per record. */
    const perOp = (results: [Error | null, unknown][]): [Error | null, unknown][] => {
      const out: [Error | null, unknown][] = new Array(batch.length);
      cmds.forEach((c, k) => {
        const [err, res] = results[k] ?? [new Error('no reply'), undefined];
        if (c.kind === 'record') out[c.op] = [err, res];
        // the evictions of a call are counted once, on its first event
        else order[k]!.forEach((i, n) => (out[i] = err ? [err, undefined] : [null, [(res as number[])[n + 1], n === 0 ? (res as number[])[0] : 0]]));
      });
      return out;
    };
    let stopped = false;
    p.exec()
      .then(
        (results) => (stopped = this.settle(batch, perOp(results ?? []))),
        (err: unknown) => (stopped = this.settle(batch, batch.map(() => [err as Error, undefined]))),
      )
      .catch((err: unknown) => this.logger?.error({ err: (err as Error).message }, 'journal write bookkeeping failed'))
      .finally(() => {
        this.writing = false;
        if (this.head >= this.ops.length) return;
        // After a failure, pause before writing again (a reconnect's 'ready' also schedules).
        if (!stopped) this.schedule();
        else if (!this.retryTimer) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.schedule();
          }, 100);
          this.retryTimer.unref();
        }
      });
  }

  /**
   * Takes the acknowledged prefix of a batch off the queue. From the first op that failed on the
   * connection on, everything stays and is written again (an op after it that did land is then
   * recognised as a duplicate). True if it stopped on a failure.
   */
  private settle(batch: Op[], results: [Error | null, unknown][]): boolean {
    let done = 0;
    let stopped = false;
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i]!;
      const [err, res] = results[i] ?? [new Error('no reply'), undefined];
      if (err) {
        if (isConnectionError(err)) {
          this.noteError(err);
          stopped = true;
          break;
        }
        this.dropped++;
        this.logger?.error({ store: this.where, err: err.message, kind: op.kind }, 'the journal store refused a write');
      } else if (op.kind === 'event') {
        const [code, evicted] = (res as [number, number]) ?? [1, 0];
        if (code === 0) this.duplicates++;
        else if (code === -1) this.lostRequest(op.ev.requestId);
        this.evictions += evicted ?? 0;
      } else if (res === -1) this.lostRequest(op.id);
      done++;
    }
    for (let i = 0; i < done; i++) {
      const op = this.ops[this.head]!;
      this.bufferedBytes -= op.size;
      if (op.kind === 'event') this.bufferedEvents--;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.ops.length) {
      this.ops = this.ops.slice(this.head);
      this.head = 0;
    }
    this.settledCount += done;
    this.releaseBarriers(false);
    return stopped;
  }

  private lostRequest(id: string): void {
    if (this.lost.has(id)) return;
    this.lost.add(id);
    if (this.lost.size > 10_000) this.lost.delete(this.lost.values().next().value!);
    this.logger?.warn({ requestId: id, instance: this.instance }, 'another sidecar ended this request (this process had lost its lease): no more events are written for it');
    this.onLost(id);
  }

  private releaseBarriers(all = true): void {
    if (!this.barriers.length) return;
    const keep: typeof this.barriers = [];
    for (const b of this.barriers) if (all || b.mark <= this.settledCount) b.resolve();
    else keep.push(b);
    this.barriers = all ? [] : keep;
  }

  /**
   * Resolves once everything this process queued so far is in Redis (or given up, or the store
   * is down): a reader on the sidecar that ran a request sees its own writes.
   */
  settled(timeoutMs = 2_000): Promise<void> {
    if (this.settledCount >= this.enqueued || !this.up) return Promise.resolve();
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

  // ---------------------------------------------------------------------------- reads

  private async exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    const res = await this.io(() => pipeline.exec());
    return (res ?? []).map(([err, value]) => {
      if (err) throw isConnectionError(err) ? this.unavailableError(err) : err;
      return value;
    });
  }

  /** Whether an id whose keys are gone was once kept (410) or never (404). */
  private async goneOrUnknown(id: string): Promise<'gone' | 'unknown'> {
    const [live, gone] = await this.exec(this.client.pipeline().zscore(this.liveKey, id).zscore(this.goneKey, id));
    return live !== null || gone !== null ? 'gone' : 'unknown';
  }

  async read(id: string, after: number): Promise<ReadResult> {
    await this.settled();
    const s = this.streamKey(id);
    const [page, ended, first, known] = (await this.exec(
      this.client.pipeline().xrange(s, String(after + 1), '+', 'COUNT', READ_PAGE).hget(this.metaKey(id), 'e').xrange(s, '-', '+', 'COUNT', 1).exists(this.metaKey(id)),
    )) as [Entry[], string | null, Entry[], number];
    if (!first.length && !known) return { status: await this.goneOrUnknown(id) };
    if (page.length && seqOfId(page[0]![0]) > after + 1 && first.length && first[0]![0] === page[0]![0]) return { status: 'gone' };
    const entries = [...page];
    while (entries.length && entries.length % READ_PAGE === 0) {
      const more = (await this.io(() => this.client.xrange(s, `(${entries.at(-1)![0]}`, '+', 'COUNT', READ_PAGE))) as Entry[];
      if (!more.length) break;
      entries.push(...more);
    }
    const events: LifecycleEvent[] = [];
    for (const e of entries) {
      const ev = parseEntry(e);
      if (ev) events.push(ev);
    }
    return { status: 'ok', events, ended: ended !== null };
  }

  async check(id: string, after: number): Promise<void> {
    await this.settled();
    const s = this.streamKey(id);
    const [from, first, known] = (await this.exec(this.client.pipeline().xrange(s, String(after + 1), '+', 'COUNT', 1).xrange(s, '-', '+', 'COUNT', 1).exists(this.metaKey(id)))) as [
      Entry[],
      Entry[],
      number,
    ];
    if (!first.length && !known) throw (await this.goneOrUnknown(id)) === 'gone' ? new JournalGone(id) : new JournalUnknown(id);
    // the events asked for were trimmed (or never reached the store): as with the memory journal, gone
    if (first.length && seqOfId(first[0]![0]) > after + 1 && from.length && from[0]![0] === first[0]![0]) throw new JournalGone(id);
  }

  /** Up to `count` events from seq `from` on. */
  private async range(id: string, from: number, count: number): Promise<{ events: LifecycleEvent[]; firstSeq: number | undefined }> {
    const s = this.streamKey(id);
    const [page, first] = (await this.exec(this.client.pipeline().xrange(s, String(from), '+', 'COUNT', count).xrange(s, '-', '+', 'COUNT', 1))) as [Entry[], Entry[]];
    const events: LifecycleEvent[] = [];
    for (const e of page) {
      const ev = parseEntry(e);
      if (ev) events.push(ev);
    }
    return { events, firstSeq: first.length ? seqOfId(first[0]![0]) : undefined };
  }

  follow(id: string, after: number, signal: AbortSignal): AsyncIterable<LifecycleEvent> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        await self.check(id, after);
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
              let got: Awaited<ReturnType<typeof self.range>>;
              try {
                got = await self.range(id, next, READ_PAGE);
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
                  self.logger?.warn({ requestId: id, missing: `${next}..${ev.seq - 1}` }, 'events of this request never reached the journal store (dropped while it was unreachable): the stream has a gap');
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
    const key = this.streamKey(id);
    let f = this.followed.get(key);
    if (!f) {
      f = { id, lastId: `${after}-0`, subs: new Set(), lastActivity: Date.now(), checking: false };
      this.followed.set(key, f);
      this.wakePoller();
    }
    f.subs.add(sub);
  }

  private unsubscribe(id: string, sub: Sub): void {
    const key = this.streamKey(id);
    const f = this.followed.get(key);
    if (!f) return;
    f.subs.delete(sub);
    if (!f.subs.size) this.followed.delete(key);
  }

  /** Makes the blocked XREAD return so the next one covers the streams followed since. */
  private wakePoller(): void {
    this.pollGen++;
    if (!this.polling || this.pollerId === undefined || !this.up) return;
    const gen = this.pollGen;
    const attempt = (n: number) => {
      this.client.call('CLIENT', 'UNBLOCK', this.pollerId!).then(
        (unblocked) => {
          // The UNBLOCK may overtake the XREAD it is meant for (two connections): try again briefly.
          if (unblocked === 0 && n < 5 && this.polling && this.pollGen === gen) setTimeout(() => attempt(n + 1), 2 * (n + 1)).unref();
        },
        (err: Error) => {
          // Some managed services refuse CLIENT UNBLOCK: fall back to short blocking reads, so a
          // newly followed stream joins the XREAD within a quarter second instead of at once.
          if (/NOPERM|unknown|not allowed|disabled/i.test(err.message) && !this.noUnblock) {
            this.noUnblock = true;
            this.logger?.warn({ store: this.where, err: err.message }, 'CLIENT UNBLOCK is not available: live follow polls every 250 ms');
          }
        },
      );
    };
    attempt(0);
  }

  private async poll(): Promise<void> {
    while (!this.closed) {
      if (this.poller.status !== 'ready' || this.configError) {
        await new Promise((r) => setTimeout(r, 100).unref());
        continue;
      }
      const keys = [this.ctlKey, ...this.followed.keys()];
      const ids = [this.ctlLastId, ...[...this.followed.values()].map((f) => f.lastId)];
      let res: unknown;
      this.polling = true;
      try {
        res = await this.poller.call('XREAD', 'COUNT', '1000', 'BLOCK', String(this.noUnblock ? 250 : BLOCK_MS), 'STREAMS', ...keys, ...ids);
      } catch (err) {
        if (this.closed) return;
        this.noteError(err as Error);
        await new Promise((r) => setTimeout(r, 100).unref());
        continue;
      } finally {
        this.polling = false;
      }
      if (!Array.isArray(res)) continue;
      const now = Date.now();
      for (const [key, entries] of res as [string, Entry[]][]) {
        if (!entries.length) continue;
        const lastId = entries.at(-1)![0];
        if (key === this.ctlKey) {
          this.ctlLastId = lastId;
          for (const [, fields] of entries) {
            try {
              this.onControl(JSON.parse(fields[1] ?? 'null') as ControlMessage);
            } catch (err) {
              this.logger?.warn({ err: (err as Error).message }, 'bad control message');
            }
          }
          continue;
        }
        const f = this.followed.get(key);
        if (!f) continue;
        if (idAfter(lastId, f.lastId)) f.lastId = lastId;
        f.lastActivity = now;
        const events: LifecycleEvent[] = [];
        for (const e of entries) {
          const ev = parseEntry(e);
          if (ev) events.push(ev);
        }
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
    if (!this.up) return;
    const now = Date.now();
    for (const f of this.followed.values()) {
      if (f.checking || now - f.lastActivity < this.leaseMs) continue;
      f.checking = true;
      f.lastActivity = now;
      this.takeover(f.id)
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

  // ---------------------------------------------------------------------------- takeover and control

  /** Ends the request with `request.failed` (reason sidecar_restarted) if its owner's lease is gone and it has no terminal event. */
  async takeover(id: string): Promise<Takeover> {
    const message = 'the sidecar that ran this request stopped before it finished (its owner lease expired); another sidecar marked it failed';
    const err = new AirouteError('unavailable', 503, message, { extra: { reason: 'sidecar_restarted' } });
    const res = (await this.io(() =>
      (this.client as unknown as Scripts).airouteTakeover(
        this.streamKey(id),
        this.metaKey(id),
        id,
        String(Date.now()),
        String(this.retention.ttlMs),
        `${this.keyPrefix}lease:`,
        this.instance,
        message,
        JSON.stringify(err.toOpenAI()),
        JSON.stringify(err.toAnthropic()),
        String(this.retention.maxEventsPerRequest),
      ),
    )) as [string, string?];
    if (res[0] === 'taken') {
      const event = JSON.parse(res[1]!) as LifecycleEvent;
      this.logger?.warn({ requestId: id, seq: event.seq, taker: this.instance }, 'request taken over: its sidecar stopped before it finished; marked failed (sidecar_restarted)');
      this.onTakenOver(id);
      return { status: 'taken', event };
    }
    return { status: res[0] as 'alive' | 'ended' | 'unknown' };
  }

  /** Sends a control message to the process that owns a request. */
  async sendControl(owner: string, msg: ControlMessage): Promise<void> {
    const key = `${this.keyPrefix}ctl:${owner}`;
    await this.exec(
      this.client
        .pipeline()
        .call('XADD', key, 'MAXLEN', '~', '1000', '*', 'm', JSON.stringify(msg))
        .call('PEXPIRE', key, String(Math.max(60_000, 10 * this.leaseMs))),
    );
  }

  /** Whether a sidecar instance holds its lease (it is alive). */
  async alive(instance: string): Promise<boolean> {
    return (await this.io(() => this.client.exists(this.leaseKey(instance)))) === 1;
  }

  // ---------------------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.closed) return;
    // give queued writes a moment to land, so a graceful stop loses nothing it could keep
    await this.settled(1_000);
    this.closed = true;
    clearInterval(this.heartbeat);
    clearInterval(this.sweeper);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const f of this.followed.values()) for (const sub of f.subs) sub.wake?.();
    this.releaseBarriers();
    // Dropping the lease lets another replica end what this process leaves unfinished at once.
    if (this.up) await this.client.del(this.leaseKey(this.instance), this.ctlKey).catch(() => undefined);
    const quit = (r: Redis) =>
      r.status !== 'ready'
        ? Promise.resolve(r.disconnect())
        : Promise.race([r.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500).unref())]).finally(() => r.disconnect());
    this.poller.disconnect();
    await Promise.all([quit(this.client), this.pollLoop.catch(() => undefined)]);
  }
}
