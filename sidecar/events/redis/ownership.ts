// Who runs a request, and what happens when that process is gone. A sidecar process holds a lease
// (P:lease:<instance>, PX ownerLeaseMs, renewed three times a lease); the requests whose first
// events it wrote are its own while the lease exists.
//
// Takeover: a request whose owner's lease is gone and that has no terminal event is ended by
// whichever sidecar next reads it, with one `request.failed` (reason `sidecar_restarted`),
// appended by a Lua script that checks the lease, the missing terminal event and the next seq
// atomically, so two readers racing cannot both write it. The process that lost its lease learns
// it when its next write for the request is refused (`lost`), and stops spending upstream on it.
import type { Logger } from 'pino';
import { AirouteError } from '../../errors.ts';
import type { Retention } from '../journal.ts';
import type { StoreLink } from './connection.ts';
import type { KeyLayout } from './keys.ts';
import { takeover, type Takeover } from './scripts.ts';

export const DEFAULT_OWNER_LEASE_MS = 10_000;
/** Requests remembered as lost, so each is reported once: a bound, not a cache (an old id reported twice is harmless). */
const MAX_LOST = 10_000;

const TAKEOVER_MESSAGE = 'the sidecar that ran this request stopped before it finished (its owner lease expired); another sidecar marked it failed';

export class Ownership {
  readonly instance: string;
  readonly leaseMs: number;
  private readonly link: StoreLink;
  private readonly keys: KeyLayout;
  private readonly retention: () => Retention;
  private readonly logger: Logger | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly lostIds = new Set<string>();
  /** The request count in the store, as of the last heartbeat (for stats, read in the same round trip). */
  requests = 0;

  /** Told when another sidecar ended one of this process's requests (its lease had lapsed). */
  onLost: (id: string) => void = () => undefined;
  /** Told when this process ended a request whose owner was gone (its webhook, if any, is then ours to send). */
  onTakenOver: (id: string) => void = () => undefined;

  constructor(link: StoreLink, keys: KeyLayout, instance: string, leaseMs: number, retention: () => Retention, logger: Logger | undefined) {
    this.link = link;
    this.keys = keys;
    this.instance = instance;
    this.leaseMs = leaseMs;
    this.retention = retention;
    this.logger = logger;
    this.heartbeat = setInterval(() => this.beat(), Math.max(100, Math.floor(leaseMs / 3)));
    this.heartbeat.unref();
  }

  /** Renews this process's lease (at start, on every reconnect and three times a lease). */
  beat(): void {
    if (!this.link.up) return;
    this.link.client
      .pipeline()
      .call('SET', this.keys.lease(this.instance), String(Date.now()), 'PX', String(this.leaseMs))
      .call('ZCARD', this.keys.live)
      .exec()
      .then((res) => {
        const n = res?.[1]?.[1];
        if (typeof n === 'number') this.requests = n;
      })
      .catch(() => undefined);
  }

  /** Whether a sidecar instance holds its lease (it is alive). */
  async alive(instance: string): Promise<boolean> {
    return (await this.link.io(() => this.link.client.exists(this.keys.lease(instance)))) === 1;
  }

  /** Ends the request with `request.failed` (reason sidecar_restarted) if its owner's lease is gone and it has no terminal event. */
  async takeover(id: string): Promise<Takeover> {
    const err = new AirouteError('unavailable', 503, TAKEOVER_MESSAGE, { extra: { reason: 'sidecar_restarted' } });
    const res = await this.link.io(() =>
      takeover(this.link.client, this.keys, {
        id,
        now: Date.now(),
        retention: this.retention(),
        taker: this.instance,
        message: TAKEOVER_MESSAGE,
        error: { openai: err.toOpenAI(), anthropic: err.toAnthropic() },
      }),
    );
    if (res.status === 'taken') {
      this.logger?.warn({ requestId: id, seq: res.event.seq, taker: this.instance }, 'request taken over: its sidecar stopped before it finished; marked failed (sidecar_restarted)');
      this.onTakenOver(id);
    }
    return res;
  }

  /** The store refused a write for this request: another sidecar ended it. Reported once per request. */
  lost(id: string): void {
    if (this.lostIds.has(id)) return;
    this.lostIds.add(id);
    if (this.lostIds.size > MAX_LOST) this.lostIds.delete(this.lostIds.values().next().value!);
    this.logger?.warn({ requestId: id, instance: this.instance }, 'another sidecar ended this request (this process had lost its lease): no more events are written for it');
    this.onLost(id);
  }

  /** Stops the heartbeat; the caller drops the lease, so another replica can end what this process leaves unfinished at once. */
  close(): void {
    clearInterval(this.heartbeat);
  }
}
