// The systems `npm run bench:peers` measures, each opened through the shared harness: direct (the
// load generator talks to the mock itself), nginx and Portkey (installed and started by
// bench/lib/nginx.ts and bench/lib/portkey.ts), and the airoute sidecar (the compiled build, as
// deployed). A system that cannot be installed or started is kept with the reason and not measured.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { prepareDist, startAiroute, writeConfig, KEY_ENV } from './airoute.ts';
import { MIB, type Target } from './common.ts';
import { BENCH, type Harness } from './harness.ts';
import { openNginx } from './nginx.ts';
import { SYSTEM_IDS, type PeersReport, type SystemId, type SystemInfo } from './peers-report.ts';
import { openPortkey, portkeyDirectHeaders } from './portkey.ts';
import { LoadGen, treeRss, type Proc } from './procs.ts';

export interface PeerSystem extends SystemInfo {
  target?: Target;
  /** Root of the process tree whose CPU and RSS are the proxy's. */
  pid?: number;
  proc?: Proc;
}

export interface PeerSystems {
  get(id: SystemId): PeerSystem;
  all(): PeerSystem[];
  /** The targets of the systems still running, in SYSTEM_IDS order. */
  measured(): Target[];
  /** The load generator, with Portkey's routing headers added to requests to Portkey's origin only (bench/lib/loadgen-headers.ts). */
  newLoadGen(): LoadGen;
}

/** Is the system running? One whose process exited is marked failed, with its stderr. */
export function alive(s: PeerSystem): boolean {
  if (!s.available) return false;
  if (!s.proc) return true;
  const c = s.proc.child;
  if (c.exitCode === null && c.signalCode === null) return true;
  s.available = false;
  s.failed = `the process exited during the run (code ${c.exitCode}, signal ${c.signalCode}): ${s.proc.err.text.slice(-400)}`;
  return false;
}

export interface PeersSetup {
  wanted: Set<string>;
  mock: { origin: string; port: number };
  /** CPUs of every proxy, and of the load generator. */
  cpus: { proxy?: string | undefined; loadgen?: string | undefined };
  noBuild: boolean;
}

/** Starts every wanted system against the mock; measures each proxy's idle RSS. */
export async function openPeers(h: Harness, report: PeersReport, o: PeersSetup): Promise<PeerSystems> {
  const systems = new Map<SystemId, PeerSystem>(
    SYSTEM_IDS.map((id) => [id, { id, label: id, available: false, how: '', ...(o.wanted.has(id) ? {} : { why: 'not selected (--systems)' }) }]),
  );
  const get = (id: SystemId) => systems.get(id)!;
  const mock = o.mock;
  Object.assign(get('direct'), { available: true, how: 'the load generator sends to the mock upstream itself', target: { name: 'direct', origin: mock.origin, model: 'm' } });

  if (o.wanted.has('nginx')) {
    const n = await openNginx(h, (port) => nginxHttp(mock.port, port), o.cpus.proxy);
    if (!n.ok) get('nginx').why = n.why;
    else
      Object.assign(get('nginx'), {
        available: true,
        version: n.version,
        how: `Debian package, \`nginx -p DIR -c nginx.conf\` in the foreground (daemon off), worker_processes 1, access_log off, proxy_http_version 1.1 with upstream keepalive 1024, proxy_buffering off, proxy_request_buffering off; CPU and RSS are master + worker`,
        target: { name: 'nginx', origin: n.proc.origin, model: 'm' },
        pid: n.proc.nginxPid,
        proc: n.proc,
      });
  }

  const originHeaders: Record<string, Record<string, string>> = {};
  if (o.wanted.has('portkey')) {
    const k = await openPortkey(h, o.cpus.proxy);
    if (!k.ok) get('portkey').why = k.why;
    else {
      originHeaders[k.proc.origin] = portkeyDirectHeaders(`${mock.origin}/v1`);
      Object.assign(get('portkey'), {
        available: true,
        version: k.version,
        how: `\`node build/start-server.js --port=N --headless\` on Node ${process.versions.node.split('.')[0]} (project Node), NODE_ENV=production, bound to 127.0.0.1 by a preload (it has no address option); routed per request with \`x-portkey-provider: openai\` and \`x-portkey-custom-host\` (its docs' way for an OpenAI-compatible server)`,
        target: { name: 'portkey', origin: k.proc.origin, model: 'm' },
        pid: k.proc.pid,
        proc: k.proc,
      });
    }
  }

  if (o.wanted.has('airoute')) {
    const a = get('airoute');
    const dist = prepareDist(o.noBuild, report.meta.commit, h.log);
    if ('why' in dist) a.why = dist.why;
    else
      try {
        const configFile = path.join(h.tmp, 'airoute.json');
        writeConfig(configFile, {
          backends: [{ name: 'up', type: 'openai-compatible', baseURL: `${mock.origin}/v1`, apiKey: { env: KEY_ENV } }],
          routes: [{ model: 'bench', backends: [{ backend: 'up', model: 'm' }] }],
        });
        // --log-level info is the CLI's default (startSidecar passes warn first; the last one counts).
        const p = await startAiroute(h.nodeBin, configFile, { name: 'airoute', entry: 'dist', cpus: o.cpus.proxy, extraArgs: ['--log-level', 'info'] });
        Object.assign(a, {
          available: true,
          version: dist.version,
          how: '`node bin/airoute.js sidecar --config FILE` (the compiled build, the deployed entry), NODE_ENV=production, log level info (the default), one openai-compatible backend and one route, every other setting at its default (resume prefill, journal in memory, metrics on)',
          target: { name: 'airoute', origin: p.origin, model: 'bench' },
          pid: p.pid,
          proc: p,
        });
      } catch (err) {
        a.why = `built but could not start: ${(err as Error).message.slice(0, 600)}`;
      }
  }

  // Idle RSS: every proxy started, nothing sent yet; a second to settle.
  await new Promise((r) => setTimeout(r, 1000));
  for (const s of systems.values()) if (s.available && s.pid) report.figures[s.id].rssIdle = [treeRss(s.pid) / MIB];

  const preload = pathToFileURL(fileURLToPath(new URL('./loadgen-headers.ts', import.meta.url))).href;
  return {
    get,
    all: () => [...systems.values()],
    measured: () => SYSTEM_IDS.map(get).filter(alive).map((s) => s.target!),
    newLoadGen: () =>
      new LoadGen(path.join(BENCH, 'loadgen.ts'), o.cpus.loadgen, {
        nodeArgs: [`--import=${preload}`],
        env: { ...process.env, AIROUTE_BENCH_ORIGIN_HEADERS: JSON.stringify(originHeaders) },
      }),
  };
}

/** nginx as a plain reverse proxy to the mock, with upstream keep-alive and no buffering. */
function nginxHttp(mockPort: number, port: number): string {
  return `  upstream mock {
    server 127.0.0.1:${mockPort};
    keepalive 1024;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /_airoute_ready { return 200 "ok\\n"; }
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 120s;
      proxy_send_timeout 120s;
    }
  }`;
}
