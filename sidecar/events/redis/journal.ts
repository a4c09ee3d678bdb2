// The event journal on Redis Streams: a request's lifecycle outlives the sidecar process that
// ran it and can be read and followed from any replica sharing the Redis. Same `Journal`
// interface as the in-memory journal; chosen by `journal: {type: redis}` at start. This file
// composes the parts, one concern each:
//   keys.ts          the key layout and the entry-id scheme (start here)
//   connection.ts    connection options; connection failures (503, retried) vs refusals
//   scripts.ts       the Lua scripts: append, record write, takeover
//   write-queue.ts   append() only queues; bounded, batched, retried in order (batch-writer.ts: as one pipeline)
//   reads.ts         reads and replay; kept, gone (410) or unknown (404)
//   follower.ts      live follow: one multiplexed blocking XREAD per process
//   ownership.ts     owner leases and takeover of a request whose sidecar is gone
//   control.ts       cancel and /complete forwarded to the replica that runs the request
// The async store (sidecar/requests/redis-store.ts) keeps its records beside the streams, over
// this journal's connection and write queue.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ControlMessage } from '../control.ts';
import type { Journal, JournalStats, ReadResult, Retention } from '../journal.ts';
import type { LifecycleEvent } from '../types.ts';
import { RedisBatchWriter } from './batch-writer.ts';
import { connectionOptions, redactUrl, StoreLink } from './connection.ts';
import { ControlChannel } from './control.ts';
import { LiveFollower } from './follower.ts';
import { KeyLayout } from './keys.ts';
import { DEFAULT_OWNER_LEASE_MS, Ownership } from './ownership.ts';
import { StreamReader } from './reads.ts';
import { defineScripts, type RecordWrite, type Takeover } from './scripts.ts';
import { WriteQueue } from './write-queue.ts';

export { redactUrl, type Takeover };

export interface RedisJournalOptions {
  /** redis://[user@]host[:port][/db] or rediss:// (TLS). */
  url: string;
  password?: string;
  keyPrefix: string;
  retention: Retention;
  /** How long a sidecar's requests stay its own after its last heartbeat. */
  ownerLeaseMs?: number;
  /** Write-queue bounds (write-queue.ts has the defaults). */
  maxBufferedEvents?: number;
  maxBufferedBytes?: number;
  logger?: Logger;
  /** This process's identity as an owner (default: host/pid/random). */
  instance?: string;
  /** Why the journal cannot work at all (e.g. its password could not be resolved); reported as unavailable. */
  configError?: string;
}

export class RedisJournal implements Journal {
  readonly instance: string;
  readonly keys: KeyLayout;
  /** Commands and writes (the async store defines its scripts on it too). */
  readonly client: Redis;
  private readonly link: StoreLink;
  private readonly queue: WriteQueue;
  private readonly reader: StreamReader;
  private readonly follower: LiveFollower;
  private readonly ownership: Ownership;
  private readonly control: ControlChannel;
  private retention: Retention;
  private closed = false;

  /** Told when another sidecar ended one of this process's requests (its lease had lapsed). */
  onLost: (id: string) => void = () => undefined;
  /** Told when this process ended a request whose owner was gone (its webhook, if any, is then ours to send). */
  onTakenOver: (id: string) => void = () => undefined;
  /** Control messages other replicas sent to this process. */
  onControl: (msg: ControlMessage) => void = () => undefined;

  constructor(opts: RedisJournalOptions) {
    this.instance = opts.instance ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
    this.keys = new KeyLayout(opts.keyPrefix);
    this.retention = opts.retention;
    const logger = opts.logger;
    const where = redactUrl(opts.url);
    const leaseMs = opts.ownerLeaseMs ?? DEFAULT_OWNER_LEASE_MS;
    const options = connectionOptions(opts.url, opts.password, `airoute:${this.instance}`);
    // With a config error (an unresolvable password) the journal stays down and says why.
    const lazyConnect = opts.configError !== undefined;
    this.client = new Redis({ ...options, lazyConnect });
    const poller = new Redis({ ...options, connectionName: `airoute-follow:${this.instance}`, lazyConnect });
    defineScripts(this.client);
    this.link = new StoreLink(this.client, where, opts.configError, logger);
    poller.on('error', (err: Error) => this.link.noteError(err));

    const retention = () => this.retention;
    this.ownership = new Ownership(this.link, this.keys, this.instance, leaseMs, retention, logger);
    this.ownership.onLost = (id) => this.onLost(id);
    this.ownership.onTakenOver = (id) => this.onTakenOver(id);
    this.queue = new WriteQueue(new RedisBatchWriter(this.link, this.keys, this.instance, retention), {
      ...(opts.maxBufferedEvents !== undefined ? { maxEvents: opts.maxBufferedEvents } : {}),
      ...(opts.maxBufferedBytes !== undefined ? { maxBytes: opts.maxBufferedBytes } : {}),
      logger,
      where,
      onConnectionError: (err) => this.link.noteError(err),
      onLost: (id) => this.ownership.lost(id),
    });
    this.reader = new StreamReader(this.link, this.keys, () => this.queue.settled());
    this.control = new ControlChannel(this.link, this.keys, this.instance, leaseMs, logger);
    this.control.onMessage = (msg) => this.onControl(msg);
    this.follower = new LiveFollower({ poller, link: this.link, keys: this.keys, reader: this.reader, inbox: this.control, leaseMs, takeover: (id) => this.takeover(id), logger });

    this.client.on('ready', () => {
      logger?.info({ store: where, instance: this.instance }, 'journal store connected');
      this.ownership.beat();
      this.queue.resume();
    });
    // nothing queued will be acknowledged on this connection: whoever waits for it reads now
    this.client.on('close', () => this.queue.releaseBarriers());
  }

  // ---------------------------------------------------------------------------- state

  get keyPrefix(): string {
    return this.keys.prefix;
  }

  get up(): boolean {
    return this.link.up;
  }

  /** Resolves when the store answers, or after `timeoutMs` (then it keeps trying in the background). */
  connected(timeoutMs: number): Promise<boolean> {
    return this.link.connected(timeoutMs);
  }

  unavailable(): string | undefined {
    return this.link.unavailable();
  }

  /** A store failure as the error a client gets: 503 (retry soon) when the store cannot be reached; a refusal passes through. */
  storeError(reason?: string, err?: unknown): Error {
    return this.link.storeError(reason, err);
  }

  configure(retention: Retention): void {
    this.retention = retention;
  }

  stats(): JournalStats {
    const q = this.queue;
    return { requests: this.ownership.requests, events: q.bufferedEvents, bytes: q.bufferedBytes, evictions: q.evictions, dropped: q.dropped, pending: q.pending, duplicates: q.duplicates, up: this.up };
  }

  /** Gaps readers on this process met (events dropped upstream of the store). */
  get gapsSeen(): number {
    return this.follower.gaps;
  }

  // ---------------------------------------------------------------------------- writes

  append(ev: LifecycleEvent): void {
    this.queue.append(ev);
  }

  /** Queues an async record's state behind the events already queued (ordered with them, retried like them). */
  writeRecord(w: RecordWrite): void {
    this.queue.record(w);
  }

  /**
   * Resolves once everything this process queued so far is in Redis (or given up, or the store
   * is down): a reader on the sidecar that ran a request sees its own writes.
   */
  settled(timeoutMs?: number): Promise<void> {
    return this.queue.settled(timeoutMs);
  }

  // ---------------------------------------------------------------------------- reads

  read(id: string, after: number): Promise<ReadResult> {
    return this.reader.read(id, after);
  }

  check(id: string, after: number): Promise<void> {
    return this.reader.check(id, after);
  }

  follow(id: string, after: number, signal: AbortSignal): AsyncIterable<LifecycleEvent> {
    return this.follower.follow(id, after, signal);
  }

  // ---------------------------------------------------------------------------- ownership and control

  /** Ends the request with `request.failed` (reason sidecar_restarted) if its owner's lease is gone and it has no terminal event. */
  takeover(id: string): Promise<Takeover> {
    return this.ownership.takeover(id);
  }

  /** Whether a sidecar instance holds its lease (it is alive). */
  alive(instance: string): Promise<boolean> {
    return this.ownership.alive(instance);
  }

  /** Sends a control message to the process that owns a request. */
  sendControl(owner: string, msg: ControlMessage): Promise<void> {
    return this.control.send(owner, msg);
  }

  // ---------------------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.closed) return;
    // give queued writes a moment to land, so a graceful stop loses nothing it could keep
    await this.queue.settled(1_000);
    this.closed = true;
    this.ownership.close();
    this.queue.close();
    const following = this.follower.close();
    // Dropping the lease lets another replica end what this process leaves unfinished at once.
    if (this.up) await this.client.del(this.keys.lease(this.instance), this.control.key).catch(() => undefined);
    const c = this.client;
    const quit =
      c.status !== 'ready'
        ? Promise.resolve(c.disconnect())
        : Promise.race([c.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500).unref())]).finally(() => c.disconnect());
    await Promise.all([quit, following]);
  }
}
