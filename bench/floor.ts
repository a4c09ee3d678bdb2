// `npm run bench:floor`: what Node itself costs per proxied request on this machine, beside the
// sidecar. Three processes take turns in front of the same mock upstream (bench/upstream.ts):
//  - floor-bytes: node:http server + undici dispatcher, the request and the answer forwarded as
//    bytes, nothing parsed (the least a Node proxy can do);
//  - floor-json:  the same, parsing the request, renaming the model and parsing the answer (the
//    least a proxy that understands the API must do);
//  - airoute:     the sidecar (compiled build, default settings: journal, metrics, checkpoints on);
//  - airoute, journal off: the same with --disable-journal, the journal's share of the cost;
//  - direct:      wrk straight to the mock, the bound for requests/s and the base for latency.
// Besides CPU per request and requests/s at c=256, each is measured at c=1 for latency p50/p99:
// what one more Node hop costs on this machine before any proxy logic.
// Each is pinned to CPU 0 when taskset works (the load generator, wrk, and the mock to the other
// CPUs) and driven at the same concurrency; CPU time comes from /proc. The gap between the
// floors and airoute is what the sidecar's features cost; the floors are what no change to the
// sidecar's code can remove. Needs wrk (Debian package `wrk`).
//
//   node bench/floor.ts [--seconds 6] [--rounds 3] [--concurrency 256]
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..');
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const { values: flags } = parseArgs({
  options: { seconds: { type: 'string', default: '6' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '256' }, child: { type: 'string' }, upstream: { type: 'string' }, port: { type: 'string' } },
  strict: true,
});

// ------------------------------------------------------------------ the floor proxies (run as children of this script)
if (flags.child) {
  const { createServer: httpServer } = await import('node:http');
  const { Agent } = await import('undici');
  const agent = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0, pipelining: 1 });
  const json = flags.child === 'json';
  httpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Buffer | string = Buffer.concat(chunks);
      if (json) {
        const o = JSON.parse(body.toString()) as Record<string, unknown>;
        o.model = 'm';
        body = JSON.stringify(o);
      }
      const out: Buffer[] = [];
      agent.dispatch(
        { origin: flags.upstream!, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body },
        {
          onRequestStart() {},
          onResponseStart() {},
          onResponseData(_c, chunk) {
            out.push(chunk);
          },
          onResponseEnd() {
            const answer = Buffer.concat(out);
            if (json) JSON.parse(answer.toString());
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
            res.end(answer);
          },
          onResponseError() {
            res.writeHead(502);
            res.end();
          },
        },
      );
    });
  }).listen(Number(flags.port), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const pinnable = process.platform === 'linux' && os.cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const pinned = (cpus: string, cmd: string, args: string[]): [string, string[]] => (pinnable ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args]);

async function until(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"bench","messages":[{"role":"user","content":"x"}]}' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer`);
}

/** A percentile from wrk's --latency distribution, in ms. */
function wrkPercentile(out: string, p: 50 | 99): number {
  const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
  if (!m) throw new Error(`wrk printed no ${p}th percentile`);
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

async function main(): Promise<void> {
  if (spawnSync('wrk', ['--version']).error) throw new Error('bench:floor needs wrk (Debian package wrk)');
  execFileSync(NODE, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airoute-floor-'));
  const lua = path.join(dir, 'post.lua');
  writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = '{"model":"bench","messages":[{"role":"user","content":"Say something about proxies."}],"max_tokens":64}'\n`);
  const children: ChildProcess[] = [];
  const start = (cpus: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess => {
    const [c, a] = pinned(cpus, cmd, args);
    const child = spawn(c, a, { stdio: 'ignore', env });
    children.push(child);
    return child;
  };
  const guard = setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(1);
  }, 15 * 60_000);
  try {
    const upPort = await freePort();
    start('1', NODE, [path.join(ROOT, 'bench/upstream.ts'), '--port', String(upPort)]);
    const upstream = `http://127.0.0.1:${upPort}`;
    const config = path.join(dir, 'airoute.json');
    writeFileSync(config, JSON.stringify({ backends: [{ name: 'up', type: 'openai-compatible', baseURL: `${upstream}/v1`, apiKey: { env: 'FLOOR_KEY' } }], routes: [{ model: 'bench', backends: [{ backend: 'up', model: 'm' }] }] }));
    const systems: { name: string; args?: (port: number) => string[]; env?: NodeJS.ProcessEnv }[] = [
      { name: 'direct' },
      { name: 'floor-bytes', args: (port) => [path.join(ROOT, 'bench/floor.ts'), '--child', 'bytes', '--upstream', upstream, '--port', String(port)] },
      { name: 'floor-json', args: (port) => [path.join(ROOT, 'bench/floor.ts'), '--child', 'json', '--upstream', upstream, '--port', String(port)] },
      { name: 'airoute', args: (port) => [path.join(ROOT, 'bin/airoute.js'), 'sidecar', '--config', config, '--port', String(port), '--admin-port', '0'], env: { ...process.env, FLOOR_KEY: 'k', NODE_ENV: 'production' } },
      // The journal is the one feature that can be switched off (events and async then do not work): its share of the cost.
      { name: 'airoute, journal off', args: (port) => [path.join(ROOT, 'bin/airoute.js'), 'sidecar', '--config', config, '--port', String(port), '--admin-port', '0', '--disable-journal'], env: { ...process.env, FLOOR_KEY: 'k', NODE_ENV: 'production' } },
    ];
    const results = new Map<string, { cpuUs: number[]; rps: number[]; p50: number[]; p99: number[] }>(systems.map((s) => [s.name, { cpuUs: [], rps: [], p50: [], p99: [] }]));
    for (let round = 0; round < Number(flags.rounds); round++)
      for (const s of round % 2 ? [...systems].reverse() : systems) {
        const port = await freePort();
        const child = s.args ? start('0', NODE, s.args(port), s.env) : undefined;
        const url = child ? `http://127.0.0.1:${port}/v1/chat/completions` : `${upstream}/v1/chat/completions`;
        await until(url);
        const wrk = (secs: number, concurrency = flags.concurrency) => {
          const [c, a] = pinned('1', 'wrk', ['-t1', `-c${concurrency}`, `-d${secs}s`, '--latency', '-s', lua, url]);
          return execFileSync(c, a, { encoding: 'utf8' });
        };
        wrk(2); // warm-up: JIT, connection pools
        const before = child ? cpuSeconds(child.pid!) : 0;
        const out = wrk(Number(flags.seconds));
        const used = child ? cpuSeconds(child.pid!) - before : Number.NaN;
        const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
        // A proxy that answers errors is fast and measures nothing: a floor once answered 502 to every request.
        const failed = /Non-2xx or 3xx responses: (\d+)/.exec(out);
        if (failed) throw new Error(`${s.name} answered ${failed[1]} of ${requests} requests with an error status; its figures would be meaningless`);
        const r = results.get(s.name)!;
        r.cpuUs.push((used * 1e6) / requests);
        r.rps.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0));
        const one = wrk(3, '1');
        r.p50.push(wrkPercentile(one, 50));
        r.p99.push(wrkPercentile(one, 99));
        if (child) {
          child.kill('SIGTERM');
          await new Promise((resolve) => child.once('exit', resolve));
        }
      }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const direct = results.get('direct')!;
    const ms = (x: number) => x.toFixed(3);
    const lines: string[] = [];
    const print = (line: string) => {
      console.log(line);
      lines.push(line);
    };
    print(`\n| system | CPU per request, c=${flags.concurrency} (median, µs) | spread | requests/s (median) | of direct | latency p50 / p99, c=1 (ms) | added p50 / p99 |\n|---|---|---|---|---|---|---|`);
    for (const [name, r] of results) {
      const cpu = name === 'direct' ? '—' : median(r.cpuUs).toFixed(0);
      const spread = name === 'direct' ? '' : `${Math.min(...r.cpuUs).toFixed(0)}..${Math.max(...r.cpuUs).toFixed(0)}`;
      const share = `${((100 * median(r.rps)) / median(direct.rps)).toFixed(0)} %`;
      const added = name === 'direct' ? '' : `${ms(median(r.p50) - median(direct.p50))} / ${ms(median(r.p99) - median(direct.p99))}`;
      print(`| ${name} | ${cpu} | ${spread} | ${median(r.rps).toFixed(0)} | ${share} | ${ms(median(r.p50))} / ${ms(median(r.p99))} | ${added} |`);
    }
    print(`\n${flags.rounds} rounds, ${flags.seconds} s each at c=${flags.concurrency} and 3 s at c=1, zero-delay mock; ${pinnable ? 'proxy on CPU 0, wrk and the mock on CPU 1' : 'not pinned'}; ${new Date().toISOString()}`);
    const out = path.join(ROOT, 'bench/results/floor.md');
    writeFileSync(out, `# What a Node proxy costs here: \`npm run bench:floor\`\n\nWhat each system is and why: the header of [bench/floor.ts](../floor.ts); what the figures say: [bench/README.md](../README.md#profile-npm-run-benchprofile-npm-run-benchpipeline-npm-run-benchfloor).\n${lines.join('\n')}\n`);
    console.log(`written: ${path.relative(process.cwd(), out)}`);
  } finally {
    clearTimeout(guard);
    for (const c of children) c.kill('SIGKILL');
  }
}

if (!flags.child) await main();
