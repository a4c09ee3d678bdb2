// Real redis-server processes for the Redis journal tests: each test file starts its own on a
// free 127.0.0.1 port (no persistence unless asked), and kills it at the end. Without the binary
// the suites are skipped locally with a message, but fail in CI (`CI` set), where .ci/run installs
// Debian's redis-server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';

export const REDIS_BIN = process.env.AIROUTE_REDIS_SERVER ?? 'redis-server';
export const hasRedis = spawnSync(REDIS_BIN, ['--version']).status === 0;
if (!hasRedis) {
  if (process.env.CI) throw new Error(`${REDIS_BIN} not found: the Redis journal tests need Debian's redis-server (add it to .ci/apt-packages)`);
  console.warn(`[test/redis] skipped: ${REDIS_BIN} is not installed (apt-get install -y redis-server); in CI this fails`);
}

/** Every child this module started and that still runs: killed if the test process exits without cleaning up. */
const live = new Set<ChildProcess>();
/** Temporary directories (configs, certificates) removed when the test process exits. */
const dirs: string[] = [];
const cleanup = () => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
};
// at the end of every file that uses this module, and, as a last resort, when the process exits
afterAll(cleanup);
process.once('exit', cleanup);

export function tempDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const NODE = path.join(ROOT, 'node_modules/.bin/node');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(what: string, f: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

export interface RedisOpts {
  /** Keep data across restarts (AOF, fsync always) in a temp dir. */
  persist?: boolean;
  password?: string;
  tls?: { cert: string; key: string };
}

/** One redis-server child on 127.0.0.1; restartable on the same port. */
export class RedisServer {
  port = 0;
  child: ChildProcess | undefined;
  private dir = mkdtempSync(path.join(os.tmpdir(), 'airoute-redis-'));
  private readonly opts: RedisOpts;
  private clients: Redis[] = [];
  log = '';

  constructor(opts: RedisOpts = {}) {
    this.opts = opts;
  }

  get url(): string {
    return `${this.opts.tls ? 'rediss' : 'redis'}://${this.opts.tls ? 'localhost' : '127.0.0.1'}:${this.port}`;
  }

  async start(): Promise<this> {
    if (!this.port) this.port = await freePort();
    const args = ['--bind', '127.0.0.1', '--save', '', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'];
    if (this.opts.persist) args.push('--appendonly', 'yes', '--appendfsync', 'always');
    else args.push('--appendonly', 'no');
    if (this.opts.password) args.push('--requirepass', this.opts.password);
    if (this.opts.tls) {
      writeFileSync(path.join(this.dir, 'cert.pem'), this.opts.tls.cert);
      writeFileSync(path.join(this.dir, 'key.pem'), this.opts.tls.key);
      args.push('--port', '0', '--tls-port', String(this.port), '--tls-cert-file', path.join(this.dir, 'cert.pem'), '--tls-key-file', path.join(this.dir, 'key.pem'), '--tls-ca-cert-file', path.join(this.dir, 'cert.pem'), '--tls-auth-clients', 'no');
    } else args.push('--port', String(this.port));
    const child = spawn(REDIS_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    child.stdout!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000)));
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000)));
    await until(`redis-server on ${this.port}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${this.log}`);
      const r = spawnSync('redis-cli', ['-p', String(this.port), ...(this.opts.password ? ['-a', this.opts.password, '--no-auth-warning'] : []), ...(this.opts.tls ? ['--tls', '--cacert', path.join(this.dir, 'cert.pem')] : []), 'PING'], { encoding: 'utf8' });
      return r.stdout.trim() === 'PONG';
    });
    return this;
  }

  /** A plain client for the test's own checks. */
  client(): Redis {
    const c = new Redis({ host: '127.0.0.1', port: this.port, protocol: 2, lazyConnect: false, maxRetriesPerRequest: 1, ...(this.opts.password ? { password: this.opts.password } : {}), ...(this.opts.tls ? { tls: { rejectUnauthorized: false } } : {}) });
    c.on('error', () => undefined);
    this.clients.push(c);
    return c;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    for (const c of this.clients.splice(0)) c.disconnect();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every event of a request as stored, straight from the stream (ids and seqs). */
export async function storedEvents(r: Redis, id: string, prefix = 'airoute:'): Promise<{ ids: string[]; events: LifecycleEvent[] }> {
  const entries = (await r.xrange(`${prefix}{${id}}:s`, '-', '+')) as [string, string[]][];
  return { ids: entries.map((e) => e[0]), events: entries.map((e) => JSON.parse(e[1][1]!) as LifecycleEvent) };
}

/** Reads an SSE response to its end: the events, their `id:`s, and any `event: error` data. */
export async function readSse(res: Response): Promise<{ events: LifecycleEvent[]; ids: number[]; errors: string[] }> {
  const text = await res.text();
  const events: LifecycleEvent[] = [];
  const ids: number[] = [];
  const errors: string[] = [];
  for (const block of text.split('\n\n')) {
    const id = /^id: (\d+)$/m.exec(block);
    const data = /^data: (.*)$/m.exec(block);
    if (/^event: error$/m.test(block) && data) errors.push(data[1]!);
    else if (id && data) {
      ids.push(Number(id[1]));
      events.push(JSON.parse(data[1]!) as LifecycleEvent);
    }
  }
  return { events, ids, errors };
}

export const TERMINAL = ['request.completed', 'request.failed', 'request.cancelled'];

/** seq gapless from 1, one request, exactly one terminal event and it is the last. */
export function wellFormed(evs: LifecycleEvent[], id: string): string | undefined {
  const seqs = evs.map((e) => e.seq);
  if (seqs.some((s, i) => s !== i + 1)) return `seqs not gapless from 1: ${seqs.join(',')}`;
  if (!evs.every((e) => e.requestId === id)) return 'events of another request';
  const terminals = evs.filter((e) => TERMINAL.includes(e.type));
  if (terminals.length !== 1) return `${terminals.length} terminal events`;
  if (evs.at(-1) !== terminals[0]) return 'terminal event is not the last';
  if (evs[0]!.type !== 'request.accepted') return `first event is ${evs[0]!.type}`;
  return undefined;
}

export interface ChildSidecar {
  child: ChildProcess;
  port: number;
  adminPort: number;
  url: string;
  adminURL: string;
  out: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A sidecar by its CLI contract, as a child process (so it can be killed -9). Resolves once /healthz answers. */
export async function spawnSidecar(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<ChildSidecar> {
  const port = await freePort();
  const adminPort = await freePort();
  const child: ChildProcess = spawn(NODE, ['cli/airoute.ts', 'sidecar', '--config', configFile, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'info'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const adminURL = `http://127.0.0.1:${adminPort}`;
  await until(
    'child sidecar',
    async () => {
      if (child.exitCode !== null) throw new Error(`sidecar exited ${child.exitCode}: ${out}`);
      return (await fetch(`${adminURL}/healthz`)).status === 200;
    },
    30_000,
    50,
  );
  return {
    child,
    port,
    adminPort,
    url: `http://127.0.0.1:${port}`,
    adminURL,
    out: () => out,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}

export function writeConfig(doc: unknown): string {
  const dir = tempDir('airoute-cfg-');
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(doc));
  return file;
}
