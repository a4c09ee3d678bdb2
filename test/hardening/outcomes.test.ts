// Outcomes are true. A client that disconnects while the sidecar waits on its backpressure got a
// truncated answer: the request is cancelled (reason client), never completed. A client that reads
// slowly holds the sidecar back, and the sidecar holds the upstream back: that wait is not an
// upstream stall, so it never fails the attempt, never counts against the backend's circuit and
// never triggers a resume (which would re-send everything delivered).
import { request } from 'node:http';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { eventsOf } from './client.ts';
import { chunk, DONE, drained, openStream, ScriptedUpstream, sleep } from './upstream.ts';

let up: ScriptedUpstream;
let sc: TestSidecar;
/** Enough bytes to fill the socket buffers between the sidecar and a client that stops reading. */
const PIECE = 'x'.repeat(256 * 1024);
const PIECES = 32;

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  sc = await testSidecar({
    backends: [{ name: 'up', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: 'sk-outcomes-0123456789' }, circuit: { consecutiveFailures: 1, cooldownMs: 60000 } }],
    routes: [{ model: 'chat', backends: [{ backend: 'up' }], retry: { attempts: 2 }, resume: 'prefill', timeouts: { idleMs: 800 } }],
    // the whole 8 MiB answer stays resumable, so nothing but the clock decides whether a resume happens
    limits: { maxCheckpointChars: 16 * 1024 * 1024 },
  });
});
afterAll(async () => {
  await sc?.close();
  await up?.stop();
});
beforeEach(() => up.reset());

/** Streams PIECES big chunks as fast as the connection takes them, then finishes; resolves when the upstream saw its response close. */
function bigStream(): { closed: Promise<'finished' | 'cut'> } {
  let settle: (v: 'finished' | 'cut') => void = () => undefined;
  const closed = new Promise<'finished' | 'cut'>((r) => (settle = r));
  up.queue.push(async (res) => {
    res.on('close', () => settle(res.writableFinished ? 'finished' : 'cut'));
    openStream(res);
    for (let i = 0; i < PIECES && !res.destroyed; i++) if (!res.write(chunk(PIECE))) await drained(res);
    if (!res.destroyed) res.end(DONE);
  });
  return { closed };
}

const body = JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'a long answer please' }] });

function open(): Promise<{ res: import('node:http').IncomingMessage; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => resolve({ res, destroy: () => req.destroy() }));
    req.on('error', reject);
    req.end(body);
  });
}

test('the client disconnects while the sidecar waits on its backpressure → request.cancelled (reason client), outcome cancelled; never request.completed', async () => {
  const { closed } = bigStream();
  const { res, destroy } = await open();
  const id = res.headers['x-airoute-request-id'] as string;
  res.pause(); // read nothing: the sidecar's writes back up
  await sleep(400);
  destroy();
  await closed; // the upstream's response is over (abandoned or, if the buffers took it all, finished)
  const events = await eventsOf(sc.dataURL, id);
  const terminal = events.at(-1)!;
  expect(terminal.type).toBe('request.cancelled');
  expect(terminal.data).toMatchObject({ reason: 'client' });
  expect(events.some((e) => e.type === 'request.completed')).toBe(false);
  const line = sc.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === id && l.msg === 'request');
  expect(line).toMatchObject({ outcome: 'cancelled', status: 499, code: 'cancelled' });
});

test('a slow reader holds the stream far longer than idleMs → the whole answer arrives from one attempt: no attempt.failed, no resume, the circuit (1 failure opens it) stays closed', async () => {
  bigStream();
  const { res } = await open();
  const id = res.headers['x-airoute-request-id'] as string;
  res.pause();
  await sleep(3500); // four idle windows with the sidecar blocked on this client
  res.resume();
  let text = '';
  res.setEncoding('utf8');
  for await (const part of res) text += part;
  expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  expect(text.split(PIECE).length - 1).toBe(PIECES);
  const events = await eventsOf(sc.dataURL, id);
  expect(events.filter((e) => ['attempt.failed', 'checkpoint', 'stream.resumed'].includes(e.type))).toEqual([]);
  expect(events.at(-1)!.type).toBe('request.completed');
  expect(up.received).toHaveLength(1);
  // the circuit would be open after one failure: a second request would get 503 circuit_open
  up.queue.push((r) => {
    openStream(r);
    r.end(`${chunk('fine')}${DONE}`);
  });
  const again = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  expect(again.status).toBe(200);
  expect(await again.text()).toContain('fine');
}, 30_000);

test('a same-format non-streamed answer too large to inspect, cut by the upstream mid-body → the client sees its connection cut (never a complete-looking body) and the request fails', async () => {
  const total = 3 * 1024 * 1024;
  up.queue.push(async (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(total) });
    res.write(`{"id":"chatcmpl-cut","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"${'c'.repeat(2 * 1024 * 1024)}`);
    await sleep(100);
    res.destroy();
  });
  const outcome = await new Promise<{ status: number; error?: string; bytes: number; id: string }>((resolve) => {
    const req = request(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, error: e.message, bytes, id: res.headers['x-airoute-request-id'] as string }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, id: res.headers['x-airoute-request-id'] as string }));
    });
    req.end(JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'a big answer' }] }));
  });
  expect(outcome.status).toBe(200); // the headers went out with the first bytes
  expect(outcome.error).toBeDefined();
  expect(outcome.bytes).toBeLessThan(total);
  const events = await eventsOf(sc.dataURL, outcome.id);
  expect(events.at(-1)).toMatchObject({ type: 'request.failed', data: { error: { code: 'upstream_reset' } } });
});
