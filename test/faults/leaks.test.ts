// Nothing outlives a request, whatever went wrong with it: for every fault (before the first byte,
// mid-stream, a client that leaves), after the request has ended
//  - no timer of the sidecar is left pending (the deadline, first-token and idle clocks, backoff
//    sleeps are all cleared: a leaked total-timeout timer would sit there for 15 s),
//  - the connections to the upstream do not grow with the number of faulted requests (every body
//    is read to its end, released or destroyed; a leaked one keeps its socket busy forever),
//  - no listener piles up on a long-lived emitter or signal (Node warns past 10 on one target).
// The sidecar runs in this process, so the process's active resources are the sidecar's plus the
// test's own; the test's client closes its connection after each request.
import { createHook } from 'node:async_hooks';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { Agent, request } from 'undici';
import { MockProvider, chunkText, resetMocks, type Fault } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const TEXT = 'A request that ends must take its timers, sockets and listeners with it, whichever way it ended.';
const ROUNDS = 12; // more than Node's default of 10 listeners per target, so a per-request listener on a shared one warns

let a: MockProvider;
let b: MockProvider;
let sc: TestSidecar;
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);

beforeAll(async () => {
  a = await new MockProvider().start();
  b = await new MockProvider().start();
  const circuit = { consecutiveFailures: 1000, minimumRequests: 100000, host: { consecutiveFailures: 1000, minimumRequests: 100000 } };
  sc = await testSidecar({
    backends: [
      { name: 'a', type: 'openai-compatible', baseURL: `${a.url}/v1`, circuit },
      { name: 'b', type: 'openai-compatible', baseURL: `${b.url}/v1`, circuit },
    ],
    routes: [
      {
        model: 'm',
        backends: [
          { backend: 'a', model: 'model-a' },
          { backend: 'b', model: 'model-b' },
        ],
        retry: { attempts: 2, backoff: { baseMs: 5, maxMs: 10 } },
        timeouts: { connectMs: 500, firstTokenMs: 100, idleMs: 60, totalMs: 15_000 },
        resume: 'prefill',
      },
      // Clocks far longer than a request: a clock its end fails to stop stays pending for seconds.
      {
        model: 'slow-clocks',
        backends: [{ backend: 'a', model: 'model-a' }],
        retry: { attempts: 2, backoff: { baseMs: 5, maxMs: 10 } },
        timeouts: { connectMs: 500, firstTokenMs: 20_000, idleMs: 10_000, totalMs: 30_000 },
      },
    ],
  });
  process.on('warning', onWarning);
});
afterAll(async () => {
  process.off('warning', onWarning);
  await sc?.close();
  await a?.stop();
  await b?.stop();
});
beforeEach(() => {
  resetMocks({ text: TEXT, inputTokens: 5 }, a, b);
  warnings.length = 0;
});

/**
 * Timers the sidecar's own code creates, while pending: keyed by async id, with the frame that
 * created them. An async hook sees every timer, unref'd ones and `timers/promises` sleeps included
 * (process.getActiveResourcesInfo() does not list unref'd timers, and the deadline's is one).
 */
const pendingTimers = new Map<number, string>();
const timerHook = createHook({
  init(id, type) {
    if (type !== 'Timeout') return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 30;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    const frame = stack.split('\n').find((l) => /[\\/]sidecar[\\/]/.test(l) && !l.includes('node_modules'));
    if (frame) pendingTimers.set(id, frame.trim());
  },
  destroy(id) {
    pendingTimers.delete(id);
  },
});

const settle = () => new Promise((r) => setTimeout(r, 30));

/** One request with a client that closes its connection afterwards; `leaveAfterMs` aborts it. */
async function send(stream: boolean, leaveAfterMs?: number, model = 'm'): Promise<{ status: number; body: string }> {
  const agent = new Agent({ pipelining: 0 });
  const ac = new AbortController();
  const timer = leaveAfterMs === undefined ? undefined : setTimeout(() => ac.abort(), leaveAfterMs);
  try {
    const res = await request(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      dispatcher: agent,
      signal: ac.signal,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = await res.body.text();
    return { status: res.statusCode, body };
  } catch (e) {
    return { status: 0, body: String(e) };
  } finally {
    clearTimeout(timer);
    await agent.close().catch(() => undefined);
  }
}

const CASES: [string, Fault, boolean, number?][] = [
  ['500 on every attempt of the primary (retried, then the fallback answers)', { status: 500 }, true],
  ['connection reset before headers', { reset: 'before-headers' }, true],
  ['no response headers within firstTokenMs', { hang: 'before-headers' }, true],
  ['headers, then no first token', { slowFirstTokenMs: 300 }, true],
  ['connection dropped mid-stream (resumed on the fallback)', { dropAfter: 3 }, true],
  ['stream stalls past idleMs', { stallAfter: 3 }, true],
  ['malformed chunk mid-stream', { malformedAfter: 3 }, true],
  ['error event mid-stream', { errorEventAfter: 3 }, true],
  ['non-stream: 500 then the fallback', { status: 500 }, false],
  ['non-stream: connection reset before headers', { reset: 'before-headers' }, false],
  ['the client leaves mid-stream (the upstream is slow)', { stallAfter: 3 }, true, 40],
];

test.each(CASES)('%s: no timer, upstream connection or listener outlives the request', async (_name, fault, stream, leaveAfterMs) => {
  // warm-up: pools, lazy modules, the first request's one-off timers
  await send(stream);
  await settle();
  pendingTimers.clear();
  timerHook.enable();
  for (let i = 0; i < ROUNDS; i++) {
    a.faults = [fault, fault];
    const { status, body } = await send(stream, leaveAfterMs);
    if (leaveAfterMs === undefined) {
      expect(status, body).toBe(200);
      expect(body).toContain(stream ? chunkText(TEXT).at(-1)!.trim() : TEXT);
    }
  }
  // every round met the fault (no circuit or host breaker let the requests skip it)
  expect(a.received.filter((r) => r.fault).length).toBeGreaterThanOrEqual(ROUNDS);
  // the sidecar notices a client that left on its next write or the idle clock: give it that long
  await new Promise((r) => setTimeout(r, leaveAfterMs === undefined ? 30 : 200));
  // An aborted attempt's connection is torn down asynchronously (its close events clear what it
  // armed): on a loaded machine that can take a few ticks. Waiting up to a second still catches what
  // this test is for: the total deadline (15 s here) or an interval left behind by a request.
  for (let waited = 0; pendingTimers.size > 0 && waited < 1000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  timerHook.disable();
  expect([...pendingTimers.values()], 'timers the sidecar created and never cleared').toEqual([]);
  // a request's upstream connections are reused or closed, not left open per request
  expect(a.openConnections + b.openConnections).toBeLessThanOrEqual(6);
  expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
});

test.each([
  ['streamed', true, []],
  ['non-streamed', false, []],
  ['streamed, after a 500 and a backoff sleep,', true, [{ status: 500 }]],
] as [string, boolean, Fault[]][])('%s answers on a route whose clocks are far longer than the request: none of its clocks (total, first token, idle, backoff) is pending after it', async (_name, stream, faults) => {
  // The exchange's clocks share one timer, armed for the earliest due time; the request's end must
  // clear it, not leave it to fire idle seconds later.
  await send(stream, undefined, 'slow-clocks');
  await settle();
  pendingTimers.clear();
  timerHook.enable();
  for (let i = 0; i < ROUNDS; i++) {
    a.faults = [...faults];
    const { status, body } = await send(stream, undefined, 'slow-clocks');
    expect(status, body).toBe(200);
    expect(body).toContain(stream ? chunkText(TEXT).at(-1)!.trim() : TEXT);
  }
  for (let waited = 0; pendingTimers.size > 0 && waited < 1000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  timerHook.disable();
  expect([...pendingTimers.values()], 'timers the sidecar created and never cleared').toEqual([]);
});
