// The journal's Lua scripts: what must happen atomically in Redis (an append checked against the
// request's end and the count bound, a record write checked against a takeover, a takeover checked
// against the owner's lease), with their arguments and replies typed here so no caller counts
// ARGV positions. They build per-request keys from the prefix as keys.ts does, so they need a
// single Redis (primary/replicas, Valkey, a managed non-cluster service), not Redis Cluster.
import type { ChainableCommander, Redis } from 'ioredis';
import type { Retention } from '../journal.ts';
import { TERMINAL_EVENTS, type LifecycleEvent } from '../types.ts';
import type { KeyLayout } from './keys.ts';

/**
 * Appends events of several requests, each request's in order. KEYS: live, gone. ARGV: maxlen,
 * ttlMs, now, owner, maxRequests, prefix, goneCap, then per request: id, n, and n times
 * (seq, json, terminal 1/0). Returns {evicted, code per event in ARGV order}: 1 added, 0 already
 * there (a retried write), -1 the request already ended (another sidecar took it over: this
 * process must stop writing for it).
 * One call per batch rather than per event: the per-command cost is what bounds throughput.
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

/** The scripts as ioredis commands (defineScripts adds them to the client and its pipelines; on a pipeline they queue and return it). */
interface ScriptCommands {
  airouteAppend(...args: string[]): unknown;
  airouteRecord(...args: string[]): unknown;
  airouteTakeover(...args: string[]): Promise<unknown>;
}

export function defineScripts(client: Redis): void {
  client.defineCommand('airouteAppend', { numberOfKeys: 2, lua: APPEND_LUA });
  client.defineCommand('airouteRecord', { numberOfKeys: 2, lua: RECORD_LUA });
  client.defineCommand('airouteTakeover', { numberOfKeys: 2, lua: TAKEOVER_LUA });
}

const commands = (on: Redis | ChainableCommander) => on as unknown as ScriptCommands;

/** What an append or a record write did: 1 written, 0 already there / nothing to write, -1 another sidecar ended the request. */
export type WriteCode = 1 | 0 | -1;

/** Settings every append call carries. */
export interface AppendSettings {
  retention: Retention;
  /** This process: becomes the owner of requests whose first events it writes. */
  owner: string;
  now: number;
}

/** Queues on a pipeline one append call of several requests' events (each request's in order); appendReply reads its reply. */
export function append(p: ChainableCommander, keys: KeyLayout, s: AppendSettings, byRequest: Iterable<readonly [id: string, events: readonly LifecycleEvent[]]>): void {
  const r = s.retention;
  // the ids evicted by the count bound are remembered (so they read as gone) up to this many
  const goneCap = Math.max(1_000, r.maxRequests * 4);
  const args = [keys.live, keys.gone, String(r.maxEventsPerRequest), String(r.ttlMs), String(s.now), s.owner, String(r.maxRequests), keys.prefix, String(goneCap)];
  for (const [id, events] of byRequest) {
    args.push(id, String(events.length));
    for (const ev of events) args.push(String(ev.seq), JSON.stringify(ev), TERMINAL_EVENTS.has(ev.type) ? '1' : '0');
  }
  void commands(p).airouteAppend(...args);
}

/** An append's reply: how many requests the count bound evicted, and a code per event in argument order. */
export function appendReply(reply: unknown): { evicted: number; codes: WriteCode[] } {
  const r = reply as number[];
  return { evicted: r[0] ?? 0, codes: r.slice(1) as WriteCode[] };
}

export interface RecordWrite {
  id: string;
  json: string;
  status: string;
  finished: boolean;
  /** The idempotency key's Redis key: it expires with a finished record. */
  idemKey: string | undefined;
}

/** Queues on a pipeline one record write; its reply is a WriteCode. */
export function writeRecord(p: ChainableCommander, keys: KeyLayout, w: RecordWrite, ttlMs: number, instance: string): void {
  const meta = keys.meta(w.id);
  void commands(p).airouteRecord(meta, w.idemKey ?? meta, w.json, w.status, w.finished ? '1' : '0', String(ttlMs), w.idemKey ? '1' : '0', instance);
}

/** What a takeover found: it ended the request with `event`, or the owner is alive, the request already ended, or it is not kept. */
export type Takeover = { status: 'taken'; event: LifecycleEvent } | { status: 'alive' | 'ended' | 'unknown' };

export interface TakeoverArgs {
  id: string;
  now: number;
  retention: Retention;
  taker: string;
  message: string;
  /** The record's error, in each endpoint format, for an async request still running. */
  error: { openai: unknown; anthropic: unknown };
}

export async function takeover(client: Redis, keys: KeyLayout, a: TakeoverArgs): Promise<Takeover> {
  const res = (await commands(client).airouteTakeover(
    keys.stream(a.id),
    keys.meta(a.id),
    a.id,
    String(a.now),
    String(a.retention.ttlMs),
    keys.leasePrefix,
    a.taker,
    a.message,
    JSON.stringify(a.error.openai),
    JSON.stringify(a.error.anthropic),
    String(a.retention.maxEventsPerRequest),
  )) as [string, string?];
  if (res[0] === 'taken') return { status: 'taken', event: JSON.parse(res[1]!) as LifecycleEvent };
  return { status: res[0] as 'alive' | 'ended' | 'unknown' };
}
