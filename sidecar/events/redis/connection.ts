// How the journal talks to Redis: connection options from the configured URL, and one place that
// tells a connection failure (the client gets 503 and retries; queued writes are written again)
// from Redis refusing a command (passed through: retrying would be refused again).
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { AirouteError } from '../../errors.ts';

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

/** Replies that say "not now" (a loading, failing-over or busy server): retried like a dropped connection. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|READONLY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|NOSCRIPT)/;

/** A reply error is Redis refusing the command itself; anything else (closed, aborted, timed out) is the connection. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; message?: string } | undefined;
  if (e?.name === 'ReplyError') return TRANSIENT_REPLY.test(e.message ?? '');
  return true;
}

/**
 * The journal's command connection and what is known about its health: whether it is up, why
 * not, and commands run so that a connection failure becomes the 503 a client gets.
 */
export class StoreLink {
  readonly client: Redis;
  /** The store's URL without its password: safe for logs and errors. */
  readonly where: string;
  private readonly configError: string | undefined;
  private readonly logger: Logger | undefined;
  private lastError: string | undefined;
  private lastErrorLog = 0;

  constructor(client: Redis, where: string, configError: string | undefined, logger: Logger | undefined) {
    this.client = client;
    this.where = where;
    this.configError = configError;
    this.logger = logger;
    client.on('error', (err: Error) => this.noteError(err));
    client.on('ready', () => (this.lastError = undefined));
  }

  /** With a config error (an unresolvable password) the journal stays down and says why. */
  get usable(): boolean {
    return this.configError === undefined;
  }

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

  noteError(err: Error): void {
    this.lastError = err.message;
    const now = Date.now();
    // ioredis repeats the same error on every reconnect attempt: log it now and then, not each time.
    if (now - this.lastErrorLog > 5_000) {
      this.lastErrorLog = now;
      this.logger?.warn({ store: this.where, err: err.message }, 'journal store error');
    }
  }

  /** A failure to reach the store, as the error a client gets (503, retry soon). */
  unavailableError(err?: unknown): AirouteError {
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
  async io<T>(f: () => Promise<T>): Promise<T> {
    if (!this.up) throw this.unavailableError();
    try {
      return await f();
    } catch (err) {
      if (isConnectionError(err)) throw this.unavailableError(err);
      throw err;
    }
  }

  /** Runs a pipeline; the first failed command's error is thrown (a connection failure as a 503). */
  async exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    const res = await this.io(() => pipeline.exec());
    return (res ?? []).map(([err, value]) => {
      if (err) throw isConnectionError(err) ? this.unavailableError(err) : err;
      return value;
    });
  }
}
