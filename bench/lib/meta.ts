// What a result file says about where it came from: date, commit, machine, Node versions; and
// the compiled sidecar the peer benchmarks run (`npm run build`, then `bin/airoute.js`).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface RunMeta {
  date: string;
  commit: string;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; projectNode: string; loadavgStart: number[]; loadavgEnd: number[] };
}

function git(root: string, args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** `node_modules/.bin/node` (the project's Node 24) when it is there, else this process's. */
export function projectNode(root: string): string {
  const p = path.join(root, 'node_modules/.bin/node');
  return existsSync(p) ? p : process.execPath;
}

const round2 = (xs: number[]) => xs.map((x) => Math.round(x * 100) / 100);

export function runMeta(root: string): RunMeta {
  const commit = git(root, ['rev-parse', '--short', 'HEAD']);
  const dirty = git(root, ['status', '--porcelain', '--', 'sidecar', 'api', 'bin']) !== '';
  let pn = process.version;
  try {
    pn = execFileSync(projectNode(root), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // keep this process's
  }
  return {
    date: new Date().toISOString(),
    commit: commit ? `${commit}${dirty ? ' (sidecar/, api/ or bin/ modified in the working tree)' : ''}` : 'unknown',
    machine: {
      cores: os.availableParallelism(),
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      node: process.version,
      projectNode: pn,
      loadavgStart: round2(os.loadavg()),
      loadavgEnd: [],
    },
  };
}

export function finishMeta(m: RunMeta): void {
  m.machine.loadavgEnd = round2(os.loadavg());
}

/** Sources newer than their compiled counterpart in dist/ (a stale build runs old code). */
export function staleBuild(root: string): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(path.join(root, dir))) return;
    for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        const js = path.join(root, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!existsSync(js) || statSync(js).mtimeMs < statSync(path.join(root, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  walk('sidecar');
  walk('api');
  return stale;
}

/**
 * `npm run build` (the project's own build script, tsc into dist/), so that `bin/airoute.js` runs
 * the working tree's code. Returns an error text, or undefined when the build is usable.
 */
export function buildSidecar(root: string, log: (s: string) => void): string | undefined {
  log('building the sidecar: npm run build');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return `npm run build failed (exit ${r.status ?? r.signal}): ${`${r.stdout}${r.stderr}`.trim().slice(-800)}`;
  if (!existsSync(path.join(root, 'dist', 'cli', 'airoute.js'))) return 'npm run build succeeded but dist/cli/airoute.js is missing';
  return undefined;
}

export function machineLine(m: RunMeta): string {
  const x = m.machine;
  return `${m.date} · commit ${m.commit} · ${x.cores} cores (${x.cpu}), ${x.memoryGiB} GiB · Node ${x.projectNode} (harness ${x.node}) · load average ${x.loadavgStart.join(' ')} at start, ${x.loadavgEnd.join(' ')} at end`;
}
