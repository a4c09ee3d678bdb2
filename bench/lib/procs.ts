// Child processes of a benchmark run: the mock upstream, the sidecar(s) and the load generator.
// Each is its own process (optionally pinned to CPUs with taskset), all on 127.0.0.1, and all
// are killed when the run ends, however it ends.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Job, JobResult, ToParent } from '../loadgen.ts';

const children = new Set<ChildProcess>();

/** Kills every child still running: SIGTERM, then SIGKILL for any that linger. */
export async function killAll(): Promise<void> {
  const live = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of live) c.kill('SIGTERM');
  await Promise.race([
    Promise.all(live.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))))),
    new Promise((r) => setTimeout(r, 1500).unref()),
  ]);
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}

// Last resort if the orchestrator exits without awaiting killAll (an uncaught error): synchronous kill.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

let tasksetOk: boolean | undefined;
export function hasTaskset(): boolean {
  tasksetOk ??= spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return tasksetOk;
}

/** `[cmd, ...args]`, prefixed with `taskset -c CPUS` when pinning. */
function command(cmd: string, args: string[], cpus: string | undefined): [string, string[]] {
  return cpus ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
}

/** Keeps the last `max` characters of a stream, for error reports. */
class Tail {
  text = '';
  /** The first `max` characters, which often say what went wrong first. */
  head = '';
  readonly max: number;
  constructor(max = 8192) {
    this.max = max;
  }
  push(chunk: Buffer | string) {
    if (this.head.length < this.max) this.head += chunk.toString().slice(0, this.max - this.head.length);
    this.text = (this.text + chunk.toString()).slice(-this.max);
  }
}

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  out: Tail;
  err: Tail;
}

export interface StartOptions {
  ipc?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile?: string;
  /** Own process group (its pid is the group id), so that the whole group can be signalled. */
  detached?: boolean;
}

/** Any child process of the run (pinned with taskset when `cpus` is set); killed by `killAll`. */
export function startProcess(name: string, cmd: string, args: string[], cpus: string | undefined, opts: StartOptions = {}): Proc {
  return start(name, cmd, args, cpus, opts);
}

function start(name: string, cmd: string, args: string[], cpus: string | undefined, opts: StartOptions = {}): Proc {
  const [c, a] = command(cmd, args, cpus);
  const child = spawn(c, a, {
    cwd: opts.cwd ?? process.cwd(),
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc ? (['ipc'] as const) : [])],
    ...(opts.detached ? { detached: true } : {}),
  });
  children.add(child);
  const out = new Tail();
  const err = new Tail();
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  child.stdout!.on('data', (d: Buffer) => {
    out.push(d);
    log?.write(d);
  });
  child.stderr!.on('data', (d: Buffer) => {
    err.push(d);
    log?.write(d);
  });
  if (log) child.once('exit', () => log.end());
  child.on('exit', () => children.delete(child));
  if (child.pid === undefined) throw new Error(`${name}: could not start ${c}`);
  return { name, child, pid: child.pid, out, err };
}

export function exitedError(p: Proc): Error {
  return new Error(`${p.name} exited (code ${p.child.exitCode}, signal ${p.child.signalCode})\n--- stderr ---\n${p.err.text}\n--- stdout ---\n${p.out.text}`);
}

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

/** The mock upstream; resolves with its port once it listens. */
export async function startMock(script: string, cpus: string | undefined): Promise<Proc & { port: number; origin: string }> {
  const p = start('mock upstream', process.execPath, [script, '--port', '0'], cpus, { ipc: true });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mock upstream did not start\n${p.err.text}`)), 15_000);
    const onData = () => {
      const m = /listening (\d+)/.exec(p.out.text);
      if (m) {
        clearTimeout(timer);
        p.child.stdout!.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    p.child.stdout!.on('data', onData);
    p.child.once('exit', () => {
      clearTimeout(timer);
      reject(exitedError(p));
    });
  });
  return { ...p, port, origin: `http://127.0.0.1:${port}` };
}

export interface SidecarProc extends Proc {
  port: number;
  adminPort: number;
  origin: string;
}

/** A sidecar by its CLI contract; resolves once `/readyz` answers 200. */
export async function startSidecar(
  name: string,
  nodeBin: string,
  configFile: string,
  cpus: string | undefined,
  opts: { cwd: string; env?: NodeJS.ProcessEnv; extraArgs?: string[]; nodeArgs?: string[]; entry?: string; logFile?: string },
): Promise<SidecarProc> {
  const port = await freePort();
  const adminPort = await freePort();
  const watchdog = pathToFileURL(fileURLToPath(new URL('./watchdog.ts', import.meta.url))).href;
  const args = [`--import=${watchdog}`, ...(opts.nodeArgs ?? []), opts.entry ?? 'cli/airoute.ts', 'sidecar', '--config', configFile, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn', ...(opts.extraArgs ?? [])];
  const p = start(name, nodeBin, args, cpus, { ipc: true, cwd: opts.cwd, ...(opts.env ? { env: opts.env } : {}), ...(opts.logFile ? { logFile: opts.logFile } : {}) });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw exitedError(p);
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} not ready after 30 s\n${p.err.text}\n${p.out.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...p, port, adminPort, origin: `http://127.0.0.1:${port}` };
}

/** The load generator, driven over IPC. */
export class LoadGen {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: JobResult) => void; reject: (e: Error) => void; onReady?: (open: number) => void }>();
  readonly proc: Proc;

  /** `opts.nodeArgs`: Node options before the script (e.g. `--import` of a preload); `opts.env`: its environment. */
  constructor(script: string, cpus: string | undefined, opts: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}) {
    this.proc = start('load generator', process.execPath, [...(opts.nodeArgs ?? []), script], cpus, { ipc: true, ...(opts.env ? { env: opts.env } : {}) });
    this.proc.child.on('message', (m: ToParent) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'ready') return p.onReady?.(m.open);
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.result);
      else p.reject(new Error(`load generator: ${m.message}`));
    });
    this.proc.child.once('exit', () => {
      for (const p of this.pending.values()) p.reject(exitedError(this.proc));
      this.pending.clear();
    });
  }

  /** Requests completed per origin over the whole run. */
  readonly served = new Map<string, number>();

  run(job: Job, onReady?: (open: number) => void): Promise<JobResult> {
    const id = this.next++;
    return new Promise<JobResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(onReady ? { onReady } : {}) });
      this.proc.child.send({ id, job });
    }).then((r) => {
      if (job.kind !== 'reset') this.served.set(job.target.origin, (this.served.get(job.target.origin) ?? 0) + (r.completed ?? r.latency.length));
      return r;
    });
  }
}

/** Resident set size and its high-water mark of a process, in bytes (Linux /proc). */
export function rss(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

let clkTck: number | undefined;
function ticksPerSecond(): number {
  clkTck ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return clkTck;
}
/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / ticksPerSecond();
}

/** A process and all its descendants (Linux /proc), the process first. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let kids = '';
      try {
        kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const k of kids.trim().split(/\s+/)) if (k) walk(Number(k));
    }
  };
  walk(pid);
  return out;
}

/** CPU seconds of a process and its descendants (nginx: master and workers); processes that vanish count 0. */
export function treeCpuSeconds(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      sum += cpuSeconds(p);
    } catch {
      // gone
    }
  }
  return sum;
}

/** RSS of a process and its descendants, summed (shared pages count once per process). */
export function treeRss(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      sum += rss(p).rss;
    } catch {
      // gone
    }
  }
  return sum;
}
