// Bounded memory, by construction, in a real sidecar process (the compiled CLI, as the image runs
// it) with the heap the injected container gets: the image's flags in the operator's 256Mi limit
// (process.ts: INJECTED_CONTAINER_NODE_FLAGS). Oversized answers, a long fast stream and async
// results go through it; the process survives, its resident memory stays under the README's bound
// (below the container's 256Mi), and every client gets the whole answer or an explicit error.
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { eventsOf } from './client.ts';
import { compiledCli, INJECTED_CONTAINER_NODE_FLAGS, sample, spawnSidecar, type SidecarProcess } from './process.ts';
import { chunk, DONE, drained, openStream, ScriptedUpstream, sleep } from './upstream.ts';

/** The bound README's "Security model" documents for this load: what the process may reach in its 256Mi container. */
const RSS_BOUND = 240 * 1024 * 1024;
const MiB = 1024 * 1024;

let up: ScriptedUpstream;
let sc: SidecarProcess;
let cleanup: () => Promise<void> = async () => undefined;
let peak = 0;
let sampler: NodeJS.Timeout | undefined;
/** Peak RSS per test, reported at the end. */
const peaks: Record<string, number> = {};
let current = '';

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  const cli = await compiledCli();
  cleanup = cli.cleanup;
  sc = await spawnSidecar(
    {
      backends: [
        { name: 'oa', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: 'sk-memory-0123456789' } },
        { name: 'an', type: 'anthropic', baseURL: up.url, apiKey: { value: 'sk-ant-memory-0123456789' } },
      ],
      routes: [
        { model: 'chat', backends: [{ backend: 'oa' }], retry: { attempts: 1 }, timeouts: { idleMs: 10_000, totalMs: 120_000 } },
        { model: 'claude', backends: [{ backend: 'an' }], retry: { attempts: 1 } },
      ],
    },
    { nodeFlags: INJECTED_CONTAINER_NODE_FLAGS, entry: cli.entry },
  );
  sampler = setInterval(() => {
    sc.rss().then(
      (r) => {
        peak = Math.max(peak, r);
        peaks[current] = Math.max(peaks[current] ?? 0, r);
      },
      () => undefined,
    );
  }, 25);
}, 60_000);
afterAll(async () => {
  clearInterval(sampler);
  await sc?.stop();
  await up?.stop();
  await cleanup();
});
beforeEach((ctx) => {
  up.reset();
  current = ctx.task.name.slice(0, 40);
});

/** Writes `parts` to the response with backpressure, `times` times over. */
async function pour(res: import('node:http').ServerResponse, parts: () => Iterable<string>): Promise<void> {
  for (const p of parts()) if (!res.write(p)) await drained(res);
  res.end();
}

/** A POST whose answer is counted, not kept. */
function call(path: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; bytes: number; head: string; tail: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = request(`${sc.dataURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let bytes = 0;
      let head = '';
      let tail = '';
      res.on('data', (d: Buffer) => {
        bytes += d.length;
        if (head.length < 64 * 1024) head += d.toString('utf8', 0, 64 * 1024);
        tail = (tail + d.toString('utf8')).slice(-300);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, head, tail, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const floats = Array.from({ length: 1536 }, (_, i) => (Math.sin(i) * 0.123456789).toFixed(9)).join(',');
function* embeddings(n: number): Generator<string> {
  yield '{"object":"list","data":[';
  for (let i = 0; i < n; i++) yield `${i ? ',' : ''}{"object":"embedding","index":${i},"embedding":[${floats}]}`;
  yield '],"model":"text-embedding-3-small","usage":{"prompt_tokens":4096,"total_tokens":4096}}';
}

test('a full-batch embeddings answer (2048 x 1536 floats, 4 at once) streams through whole to every client; RSS stays under the bound; the events say it was too large to inspect', async () => {
  for (let i = 0; i < 4; i++)
    up.queue.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      void pour(res, () => embeddings(2048));
    });
  const input = Array.from({ length: 2048 }, (_, i) => `text ${i}`);
  const answers = await Promise.all(Array.from({ length: 4 }, () => call('/v1/embeddings', { model: 'chat', input })));
  const expected = [...embeddings(2048)].reduce((n, s) => n + Buffer.byteLength(s), 0);
  for (const a of answers) {
    expect(a.status).toBe(200);
    expect(a.bytes).toBe(expected);
    expect(a.tail.endsWith('"total_tokens":4096}}')).toBe(true);
  }
  const events = await eventsOf(sc.dataURL, answers[0]!.headers['x-airoute-request-id'] as string);
  expect(events.at(-1)).toMatchObject({ type: 'request.completed', data: { uninspected: { bytes: expected } } });
  expect(sc.alive()).toBe(true);
  expect(peak).toBeLessThan(RSS_BOUND);
}, 120_000);

test('a non-streamed answer larger than limits.maxResponseBytes that must be translated → explicit 502 response_too_large; never held whole', async () => {
  const big = 'x'.repeat(MiB);
  up.queue.push((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    void pour(res, function* () {
      yield '{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"';
      for (let i = 0; i < 40; i++) yield big;
      yield '"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}';
    });
  });
  const a = await call('/v1/chat/completions', { model: 'claude', messages: [{ role: 'user', content: 'hi' }] });
  expect(a.status).toBe(502);
  expect(JSON.parse(a.head)).toMatchObject({ error: { code: 'response_too_large', message: expect.stringContaining('limits.maxResponseBytes') } });
  expect(sc.alive()).toBe(true);
  expect(peak).toBeLessThan(RSS_BOUND);
}, 60_000);

test('a 256 MiB stream in 1 MiB chunks to a fast reader arrives whole; the checkpoint stops keeping text at its bound and says so; RSS stays under the bound', async () => {
  const piece = 'y'.repeat(MiB);
  up.queue.push((res) => {
    openStream(res);
    void pour(res, function* () {
      for (let i = 0; i < 256; i++) yield chunk(piece);
      yield DONE;
    });
  });
  const a = await call('/v1/chat/completions', { model: 'chat', stream: true, messages: [{ role: 'user', content: 'everything' }] });
  expect(a.status).toBe(200);
  expect(a.bytes).toBeGreaterThan(256 * MiB);
  expect(a.tail.endsWith('data: [DONE]\n\n')).toBe(true);
  const id = a.headers['x-airoute-request-id'] as string;
  const events = await eventsOf(sc.dataURL, id).catch(() => []);
  // the journal keeps a bounded window of such a request's events; if it kept the start, the resume-disabled checkpoint is there
  if (events.length && events[0]!.seq === 1) expect(events.find((e) => e.type === 'checkpoint')?.data).toMatchObject({ resumeDisabled: expect.stringContaining('maxCheckpointChars') });
  expect(sc.alive()).toBe(true);
  expect(peak).toBeLessThan(RSS_BOUND);
}, 120_000);

test('an async request whose streamed answer passes limits.maxResponseBytes fails explicitly (response_too_large) instead of being collected without end', async () => {
  const piece = 'z'.repeat(MiB);
  up.queue.push((res) => {
    openStream(res);
    void pour(res, function* () {
      for (let i = 0; i < 64; i++) yield chunk(piece);
      yield DONE;
    });
  });
  const a = await call('/v1/chat/completions', { model: 'chat', stream: true, messages: [{ role: 'user', content: 'async' }] }, { prefer: 'respond-async' });
  expect(a.status).toBe(202);
  const { id } = JSON.parse(a.head) as { id: string };
  let view: { status: string; error?: { error: { code: string } } } = { status: 'running' };
  for (let i = 0; i < 400 && view.status === 'running'; i++) {
    await sleep(50);
    view = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as typeof view;
  }
  expect(view.status).toBe('failed');
  expect(view.error?.error.code).toBe('response_too_large');
  expect(sc.alive()).toBe(true);
  expect(peak).toBeLessThan(RSS_BOUND);
}, 60_000);

test('async results are kept up to async.maxStoredBytes (16 MiB): ten 3 MiB results leave the newest readable and the oldest gone (410), not all held', async () => {
  const text = 'w'.repeat(3 * MiB);
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    up.queue.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      void pour(res, function* () {
        yield '{"id":"chatcmpl-big","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"';
        yield text;
        yield `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":${i},"total_tokens":${i + 1}}}`;
      });
    });
    const a = await call('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: `result ${i}` }] }, { prefer: 'respond-async' });
    expect(a.status).toBe(202);
    const { id } = JSON.parse(a.head) as { id: string };
    ids.push(id);
    for (let j = 0; j < 200; j++) {
      const s = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string };
      if (s.status !== 'running') break;
      await sleep(20);
    }
  }
  const last = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${ids.at(-1)}`)).json()) as { status: string; result: { choices: { message: { content: string } }[] } };
  expect(last.status).toBe('completed');
  expect(last.result.choices[0]!.message.content.length).toBe(text.length);
  expect((await fetch(`${sc.dataURL}/airoute/v1/requests/${ids[0]}`)).status).toBe(410);
  expect(sc.alive()).toBe(true);
  expect(peak).toBeLessThan(RSS_BOUND);
}, 60_000);

test('afterwards: alive, no defect, and the peak RSS is reported', async () => {
  const metrics = await sc.metrics();
  expect(sample(metrics, 'airoute_internal_errors_total{site="pipeline"}')).toBe(0);
  console.log(`peak RSS ${Math.round(peak / MiB)} MiB`, Object.entries(peaks).map(([k, v]) => `${k}: ${Math.round(v / MiB)}`));
  expect(peak).toBeLessThan(RSS_BOUND);
});
