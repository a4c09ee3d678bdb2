// What the kubelet does to a sidecar when its pod goes away: SIGTERM to a real `airoute sidecar`
// process while a stream is running. The official OpenAI SDK, mid-stream, must still get the whole
// answer and its terminator; a request sent after SIGTERM gets a clear 503; readiness fails at
// once; the process exits 0 once the stream is done, long before the drain deadline.
// Never: a stream cut short (no [DONE]), a refused connection for the new request, an exit while
// the stream runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';

const TOKENS = 48;
let dir: string;
let child: ChildProcess;
let dataURL = '';
let adminURL = '';
let stdout = '';
const exited = () => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airoute-drain-'));
  const config = join(dir, 'config.json');
  // 48 tokens at 40/s: a stream of about 1.2 s, long enough to be caught in the middle.
  await writeFile(config, JSON.stringify({ backends: [{ name: 'slow', type: 'demo', demo: { tokens: TOKENS, tokensPerSecond: 40 } }], routes: [{ model: 'chat', backends: [{ backend: 'slow' }] }] }));
  child = spawn('node_modules/.bin/node', ['cli/airoute.ts', 'sidecar', '--config', config, '--port', '0', '--admin-port', '0', '--drain-timeout', '20s'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (d: Buffer) => (stdout += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sidecar did not start: ${stdout}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.includes('"data":"http'));
      if (!line || dataURL) return;
      ({ data: dataURL, admin: adminURL } = JSON.parse(line) as { data: string; admin: string });
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stdout}`)));
  });
}, 30_000);

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('SIGTERM mid-stream → the OpenAI SDK gets all 48 tokens and [DONE]; a new request gets 503 unavailable; readiness fails; exit 0 after the stream', async () => {
  // The SDK parses the stream; this fetch keeps a copy of the raw bytes to see the terminator.
  let raw = '';
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body) return res;
    const [forSdk, forTest] = res.body.tee();
    void (async () => {
      const reader = forTest.getReader();
      for (let c = await reader.read(); !c.done; c = await reader.read()) raw += new TextDecoder().decode(c.value);
    })();
    return new Response(forSdk, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  const openai = new OpenAI({ baseURL: `${dataURL}/v1`, apiKey: 'unused', maxRetries: 0, fetch: recordingFetch });
  const stream = await openai.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hello' }] });
  const deltas: string[] = [];
  let signalled = false;
  let during: { ready: number; status?: number; code?: unknown } | undefined;
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta.content;
    if (d) deltas.push(d);
    if (deltas.length === 10 && !signalled) {
      signalled = true;
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      const ready = (await fetch(`${adminURL}/readyz`)).status;
      const other = new OpenAI({ baseURL: `${dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const err = await other.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'late' }] }).catch((e: unknown) => e);
      during = { ready, ...(err instanceof APIError ? { status: err.status, code: err.code } : {}) };
      expect(child.exitCode).toBeNull(); // still serving the stream
    }
  }
  expect(signalled).toBe(true);
  expect(deltas).toHaveLength(TOKENS);
  expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  expect(during).toEqual({ ready: 503, status: 503, code: 'unavailable' });
  const started = Date.now();
  expect(await exited()).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000); // not the 20 s deadline: it left when idle
  expect(stdout).toContain('SIGTERM: draining');
}, 30_000);
