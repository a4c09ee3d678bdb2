// Control messages between replicas: a cancel or a /complete that reached a replica other than
// the one running the request is added to the owner's control stream P:ctl:<owner>; the owner's
// follower reads that stream in its one blocking XREAD and hands each message here. The message
// type is ControlMessage (sidecar/events/control.ts): sender and receiver
// cannot disagree on its shape, and what comes off the stream is checked before it is used.
//
// Bounds: a control stream keeps about its last CONTROL_MAXLEN messages and expires
// CONTROL_TTL_LEASES leases after its last one (a stopped owner's stream goes away with it).
import type { Logger } from 'pino';
import type { ControlMessage } from '../control.ts';
import type { StoreLink } from './connection.ts';
import { fieldOf, type KeyLayout, type StreamEntry } from './keys.ts';

export const CONTROL_FIELD = 'm';
const CONTROL_MAXLEN = 1_000;
const CONTROL_TTL_LEASES = 10;

export function encodeControl(msg: ControlMessage): string {
  return JSON.stringify(msg);
}

/** A control message from its JSON; throws, saying what is wrong, on anything that is not one. */
export function decodeControl(json: string | undefined): ControlMessage {
  if (json === undefined) throw new Error(`no "${CONTROL_FIELD}" field`);
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw new Error('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
  const m = v as Record<string, unknown>;
  if (typeof m.id !== 'string' || !m.id) throw new Error('no request id');
  if (m.op === 'cancel') return { op: 'cancel', id: m.id };
  if (m.op === 'complete') return { op: 'complete', id: m.id, payload: m.payload };
  throw new Error(`unknown op ${JSON.stringify(m.op)}`);
}

export class ControlChannel {
  /** This process's control stream. */
  readonly key: string;
  private readonly link: StoreLink;
  private readonly keys: KeyLayout;
  private readonly ttlMs: number;
  private readonly logger: Logger | undefined;
  /** Where this process's messages go (the async service). */
  onMessage: (msg: ControlMessage) => void = () => undefined;

  constructor(link: StoreLink, keys: KeyLayout, instance: string, leaseMs: number, logger: Logger | undefined) {
    this.link = link;
    this.keys = keys;
    this.key = keys.control(instance);
    this.ttlMs = Math.max(60_000, CONTROL_TTL_LEASES * leaseMs);
    this.logger = logger;
  }

  /** Sends a control message to the process that owns a request. */
  async send(owner: string, msg: ControlMessage): Promise<void> {
    const key = this.keys.control(owner);
    await this.link.exec(
      this.link.client
        .pipeline()
        .call('XADD', key, 'MAXLEN', '~', String(CONTROL_MAXLEN), '*', CONTROL_FIELD, encodeControl(msg))
        .call('PEXPIRE', key, String(this.ttlMs)),
    );
  }

  /** Entries the follower read from this process's control stream. */
  receive(entries: readonly StreamEntry[]): void {
    for (const entry of entries) {
      let msg: ControlMessage;
      try {
        msg = decodeControl(fieldOf(entry, CONTROL_FIELD));
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message, entry: entry[0] }, 'bad control message');
        continue;
      }
      try {
        this.onMessage(msg);
      } catch (err) {
        // one message's failure must not stop the follower that delivers every stream's events
        this.logger?.warn({ err: (err as Error).message, op: msg.op, requestId: msg.id }, 'control message failed');
      }
    }
  }
}
