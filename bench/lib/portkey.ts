// Portkey's open-source gateway as a peer: `@portkey-ai/gateway` from the npm registry, installed
// into `.tools/portkey/` (never into the project), started on 127.0.0.1 under the run's process
// bookkeeping (bench/lib/procs.ts), so it is killed with the run however the run ends. When it
// cannot be installed or started, the functions say why instead of throwing, and the report says so.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ROOT, type Harness } from './harness.ts';
import { exitedError, freePort, startProcess, type Proc } from './procs.ts';
import { tail, which, type Availability } from './tools.ts';

export const PORTKEY_PACKAGE = '@portkey-ai/gateway';
export const PORTKEY_VERSION = '1.15.2';


/**
 * The one dependency of Portkey's gateway that is pinned: `@hono/node-server` from 1.14.2 on keeps
 * a fetch response's (immutable) `Headers` in the responses it builds, and Portkey then fails every
 * streamed chat completion on Node with `TypeError: immutable` ("Something went wrong";
 * Portkey-AI/gateway#1389). 1.14.1 copies the headers. The package's own range (^1.3.3) allows it.
 */
export const PORTKEY_OVERRIDES = { '@hono/node-server': '1.14.1' };

/**
 * Portkey's gateway: `npm install --prefix .tools/portkey @portkey-ai/gateway@1.15.2`, with
 * `.tools/portkey/package.json` carrying `PORTKEY_OVERRIDES` (npm `overrides`), unless that
 * exact install is already there (`.tools/` is gitignored; the project's package.json is never
 * touched). npm may skip the package's `postinstall` (patch-package) under an install-scripts
 * policy: the published package ships no patches, so it has nothing to do either way.
 */
export function ensurePortkey(root: string, log: (s: string) => void): Availability<{ entry: string; version: string; installed: boolean }> {
  const prefix = path.join(root, '.tools', 'portkey');
  const pkgDir = path.join(prefix, 'node_modules', ...PORTKEY_PACKAGE.split('/'));
  const entry = path.join(pkgDir, 'build', 'start-server.js');
  const version = () => {
    try {
      return (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version?: string }).version;
    } catch {
      return undefined;
    }
  };
  const manifest = path.join(prefix, 'package.json');
  const pinned = () => {
    try {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { overrides?: Record<string, string> };
      const hono = JSON.parse(readFileSync(path.join(prefix, 'node_modules', '@hono', 'node-server', 'package.json'), 'utf8')) as { version?: string };
      // A nested copy under the gateway would win over the pinned top-level one.
      const nested = existsSync(path.join(pkgDir, 'node_modules', '@hono', 'node-server'));
      return JSON.stringify(m.overrides ?? {}) === JSON.stringify(PORTKEY_OVERRIDES) && hono.version === PORTKEY_OVERRIDES['@hono/node-server'] && !nested;
    } catch {
      return false;
    }
  };
  let installed = false;
  if (version() !== PORTKEY_VERSION || !existsSync(entry) || !pinned()) {
    const npm = which('npm');
    if (!npm) return { ok: false, why: 'npm is not on PATH, so @portkey-ai/gateway cannot be installed' };
    mkdirSync(prefix, { recursive: true });
    // npm keeps `overrides` and adds the dependency to this manifest.
    let m: Record<string, unknown> = {};
    try {
      m = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
    } catch {
      // none yet
    }
    writeFileSync(manifest, `${JSON.stringify({ ...m, private: true, overrides: PORTKEY_OVERRIDES }, null, 2)}\n`);
    log(`installing Portkey: npm install --prefix .tools/portkey ${PORTKEY_PACKAGE}@${PORTKEY_VERSION}`);
    const r = spawnSync(npm, ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', `${PORTKEY_PACKAGE}@${PORTKEY_VERSION}`], {
      encoding: 'utf8',
      timeout: 300_000,
      cwd: prefix,
    });
    if (r.status !== 0) return { ok: false, why: `npm install --prefix .tools/portkey ${PORTKEY_PACKAGE}@${PORTKEY_VERSION} failed (exit ${r.status ?? r.signal}): ${tail(r.stderr || r.stdout, 400)}` };
    installed = true;
  }
  if (version() !== PORTKEY_VERSION || !existsSync(entry)) return { ok: false, why: `${PORTKEY_PACKAGE}@${PORTKEY_VERSION} is not in .tools/portkey after npm install (found ${version() ?? 'nothing'})` };
  if (!pinned()) return { ok: false, why: `npm did not apply the override ${JSON.stringify(PORTKEY_OVERRIDES)} in .tools/portkey (without it Portkey cannot stream on Node)` };
  return { ok: true, entry, version: PORTKEY_VERSION, installed };
}

export interface PortkeyProc extends Proc {
  port: number;
  origin: string;
}

/**
 * Portkey's gateway as its package's bin runs it (`node build/start-server.js --port=N`), with
 * `--headless` (no console UI, no log stream) and NODE_ENV=production, on the project's Node.
 * It has no option for the listening address, so bench/lib/loopback.ts binds it to 127.0.0.1;
 * bench/lib/watchdog.ts stops it if the run dies. Ready when `GET /` answers 200.
 */
export async function startPortkey(nodeBin: string, entry: string, cpus: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<PortkeyProc> {
  const port = await freePort();
  const pre = (f: string) => `--import=${pathToFileURL(fileURLToPath(new URL(f, import.meta.url))).href}`;
  const p = startProcess('portkey', nodeBin, [pre('./watchdog.ts'), pre('./loopback.ts'), entry, `--port=${port}`, '--headless'], cpus, {
    ipc: true,
    cwd: path.dirname(entry),
    env: { ...env, NODE_ENV: 'production' },
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw exitedError(p);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`portkey not ready after 30 s\n${p.err.text}\n${p.out.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...p, port, origin: `http://127.0.0.1:${port}` };
}

/**
 * Portkey's headers to route a request to an OpenAI-compatible server at `baseURL` (with `/v1`):
 * the provider `openai` with a custom host, as Portkey's docs say for vLLM, LocalAI and the like.
 */
export function portkeyDirectHeaders(baseURL: string): Record<string, string> {
  return { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': baseURL };
}

/** Portkey ready to measure: installed if needed and started. Or why not. */
export async function openPortkey(h: Harness, cpus: string | undefined): Promise<Availability<{ proc: PortkeyProc; version: string }>> {
  const k = ensurePortkey(ROOT, h.log);
  if (!k.ok) return k;
  try {
    const proc = await startPortkey(h.nodeBin, k.entry, cpus);
    return { ok: true, proc, version: `${PORTKEY_PACKAGE} ${k.version}${k.installed ? ' (installed by this run)' : ''}, @hono/node-server pinned to ${PORTKEY_OVERRIDES['@hono/node-server']}` };
  } catch (err) {
    return { ok: false, why: `installed but could not start: ${(err as Error).message.slice(0, 600)}` };
  }
}
