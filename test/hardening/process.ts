// A real sidecar process (the CLI, run by the project's Node 24), for the tests whose question is
// about the process itself: does it stay alive, how much memory does it hold. A crash there ends
// only that process, and the test sees it as one.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SidecarProcess {
  child: ChildProcess;
  dataURL: string;
  adminURL: string;
  dataPort: number;
  adminPort: number;
  adminToken: string;
  /** The last log lines (a bounded tail). */
  logs: string[];
  alive(): boolean;
  /** Resident set size now, from /proc (bytes). */
  rss(): Promise<number>;
  /** A sample of the admin port's /metrics, as text. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** The image's and the injected container's Node flags (Dockerfile, operator/webhook/inject.ts), for the young generation. */
export const IMAGE_NODE_FLAGS = ['--max-semi-space-size=8'];
/**
 * What those flags give in the 256Mi container the operator injects: `--max-old-space-size-percentage=40`
 * of 256 MiB. (This machine has no such limit for the percentage to apply to, so it is spelled out.)
 */
export const INJECTED_CONTAINER_NODE_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=102'];

/**
 * The CLI compiled as the image runs it (type stripping alone costs ~25 MiB of resident memory),
 * into a directory of this test process's own, so concurrent test files never read a half-written
 * dist/. Answers the entry point; `cleanup` removes it.
 */
export async function compiledCli(): Promise<{ entry: string; cleanup: () => Promise<void> }> {
  const out = `node_modules/.cache/airoute-test-${process.pid}`;
  await mkdir(out, { recursive: true });
  await promisify(execFile)('node_modules/.bin/tsc', ['-p', 'tsconfig.build.json', '--outDir', out]);
  // under node_modules the package scope stops: say the compiled files are ES modules
  await writeFile(`${out}/package.json`, '{"type":"module"}');
  return { entry: `${out}/cli/airoute.js`, cleanup: () => rm(out, { recursive: true, force: true }) };
}

export async function spawnSidecar(config: unknown, opts: { nodeFlags?: string[]; env?: Record<string, string>; entry?: string } = {}): Promise<SidecarProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'airoute-proc-'));
  const configFile = join(dir, 'config.json');
  const tokenFile = join(dir, 'token');
  const adminToken = 'fuzz-admin-token-0123456789';
  await writeFile(configFile, JSON.stringify(config));
  await writeFile(tokenFile, adminToken);
  const child = spawn(
    'node_modules/.bin/node',
    [...(opts.nodeFlags ?? IMAGE_NODE_FLAGS), opts.entry ?? 'cli/airoute.ts', 'sidecar', '--config', configFile, '--port', '0', '--admin-port', '0', '--admin-token-file', tokenFile],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } },
  );
  const logs: string[] = [];
  let partial = '';
  const take = (d: Buffer) => {
    const lines = (partial + d.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    logs.push(...lines.filter(Boolean));
    if (logs.length > 2000) logs.splice(0, logs.length - 1000);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const started = await new Promise<{ data: string; admin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sidecar did not start:\n${logs.join('\n')}`)), 20_000);
    const check = () => {
      const line = logs.find((l) => l.includes('"data":"http'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve(JSON.parse(line) as { data: string; admin: string });
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`the sidecar exited ${code}:\n${logs.join('\n')}`)));
  });
  const port = (u: string) => Number(new URL(u).port);
  return {
    child,
    dataURL: started.data,
    adminURL: started.admin,
    dataPort: port(started.data),
    adminPort: port(started.admin),
    adminToken,
    logs,
    alive: () => child.exitCode === null && child.signalCode === null,
    async rss() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kb = /VmRSS:\s+(\d+) kB/.exec(status);
      return kb ? Number(kb[1]) * 1024 : Number.NaN;
    },
    async metrics() {
      return (await fetch(`${started.admin}/metrics`)).text();
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The value of one sample of a Prometheus text exposition, or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}
