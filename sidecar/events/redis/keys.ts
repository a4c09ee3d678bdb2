// Where the Redis journal keeps what: the key layout, and how a stream entry's id encodes the
// event's seq. The Lua scripts (scripts.ts) build the same per-request keys from the prefix;
// scripts.test.ts holds the two to the same names.
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
import type { LifecycleEvent } from '../types.ts';

export class KeyLayout {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** P{id}:s, the request's events. */
  stream(id: string): string {
    return `${this.prefix}{${id}}:s`;
  }

  /** P{id}:h, the request's meta (and async record). */
  meta(id: string): string {
    return `${this.prefix}{${id}}:h`;
  }

  /** P:live, the count bound and the memory of what was once kept. */
  get live(): string {
    return `${this.prefix}live`;
  }

  /** P:gone, ids evicted by the count bound. */
  get gone(): string {
    return `${this.prefix}gone`;
  }

  /** P:lease: (the takeover script appends the owner it reads from the meta). */
  get leasePrefix(): string {
    return `${this.prefix}lease:`;
  }

  lease(instance: string): string {
    return `${this.leasePrefix}${instance}`;
  }

  control(instance: string): string {
    return `${this.prefix}ctl:${instance}`;
  }
}

/** One stream entry as XRANGE / XREAD return it (RESP2). */
export type StreamEntry = [id: string, fields: string[]];

/** The field of an event's entry that holds its JSON. */
export const EVENT_FIELD = 'e';

export function entryId(seq: number): string {
  return `${seq}-0`;
}

export function seqOfEntryId(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/** Stream ids compared as (ms, n). */
export function entryIdAfter(a: string, b: string): boolean {
  const [am, an] = a.split('-').map(Number) as [number, number];
  const [bm, bn] = b.split('-').map(Number) as [number, number];
  return am > bm || (am === bm && an > bn);
}

/** The value of one field of an entry (fields come as a flat name, value, name, value list). */
export function fieldOf(entry: StreamEntry, name: string): string | undefined {
  const f = entry[1];
  for (let i = 0; i + 1 < f.length; i += 2) if (f[i] === name) return f[i + 1];
  return undefined;
}

/** The events of a page of entries, in order; an entry without an event field is skipped. */
export function eventsOf(entries: readonly StreamEntry[]): LifecycleEvent[] {
  const events: LifecycleEvent[] = [];
  for (const e of entries) {
    const json = fieldOf(e, EVENT_FIELD);
    if (json !== undefined) events.push(JSON.parse(json) as LifecycleEvent);
  }
  return events;
}
