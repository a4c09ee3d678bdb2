// One attempt against one backend, alone: a TargetExchange built by hand, a scripted transport
// whose body the test feeds, the real adapters and decoders. Clocks are fake: tests assert which
// clock fired (code, phase), never how long anything took.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { EmbeddingsRequest, JsonObject } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import type { Answer, ResumePoint, StreamAnswer, TargetExchange } from '../pipeline/exchange.ts';
import { cancelled } from '../sidecar.ts';
import {
  ScriptedBody,
  answer,
  chatBody,
  connectError,
  dataOf,
  drain,
  harness,
  openaiWire,
  sse,
  textOf,
  typesOf,
  type Harness,
} from '../../test/support/pipeline.ts';
import type { Cancellation } from '../upstream/transport.ts';
import { attempt } from './attempt.ts';

const KEY = 'sk-test-attempt-key-0123456789';
const timeouts = { connectMs: 100, firstTokenMs: 1000, idleMs: 500, totalMs: 60_000 };
const doc = {
  backends: [
    { name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', apiKey: { value: KEY } },
    { name: 'b', type: 'anthropic' as const, baseURL: 'http://127.0.0.1:9' },
  ],
  routes: [
    { model: 'm', backends: [{ backend: 'a', model: 'up-model' }], timeouts },
    { model: 'claude', backends: [{ backend: 'b', model: 'claude-up' }], timeouts, resume: 'prefill' as const },
  ],
};

let h: Harness;
beforeEach(() => {
  // (performance too: the exchange's scope reads its clocks from it)
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
  vi.setSystemTime(1_000_000);
  h = harness(doc);
});
afterEach(() => {
  vi.useRealTimers();
});

/** Lets pending I/O callbacks and promise chains run (setImmediate stays real). */
const settle = () => new Promise<void>((r) => setImmediate(r));

function exchange(model = 'm', body: JsonObject = chatBody(model, { stream: true }), resume?: ResumePoint): TargetExchange {
  const x = h.open(body);
  return { ...x, target: x.route.targets[0]!, ...(resume ? { resume } : {}) };
}

/** The deployment's breaker (backend x model), as spies; `host` spies on the backend's host breaker. */
function spyCircuit(tx: TargetExchange) {
  const c = h.sc.resilience.deployment(tx.target).circuit;
  const hc = h.sc.resilience.hostCircuit(tx.target);
  return {
    success: vi.spyOn(c, 'success'),
    failure: vi.spyOn(c, 'failure'),
    neutral: vi.spyOn(c, 'neutral'),
    host: { success: vi.spyOn(hc, 'success'), failure: vi.spyOn(hc, 'failure'), neutral: vi.spyOn(hc, 'neutral') },
  };
}

function asStream(a: Answer): StreamAnswer {
  if (a.kind !== 'stream') throw new Error(`expected a stream answer, got ${a.kind}`);
  return a;
}

/** The attempt is off its exchange's scope once it is over, and its clock with it. */
function expectReleased(tx: TargetExchange): void {
  expect(tx.scope.occupied).toBe(false);
  expect(vi.getTimerCount()).toBe(0);
}

/** Starts an attempt whose failure is captured (so no rejection goes unhandled while clocks advance). */
function run(tx: TargetExchange): Promise<Answer | AirouteError> {
  return attempt(tx).catch((e: unknown) => {
    if (e instanceof AirouteError) return e;
    throw e;
  });
}

describe('streamed answers', () => {
  test('returns once the first content frame arrives, with the structural frames before it, in order', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.role());
    h.transport.script('a', { status: 200, body });
    let returned = false;
    const pending = attempt(tx).then((a) => {
      returned = true;
      return a;
    });
    await settle();
    expect(returned).toBe(false); // a role-only chunk is not content: nothing may reach the client yet
    body.push(openaiWire.text('Hel'));
    const a = asStream(await pending);
    expect(a).toMatchObject({ kind: 'stream', mode: 'fresh', attempt: 1, target: { model: 'up-model' } });
    expect('sentPrefill' in a).toBe(false);
    body.push(openaiWire.text('lo'), openaiWire.finish(), openaiWire.usage(3, 2), openaiWire.done);
    const { frames, error } = await drain(a.frames);
    expect(error).toBeUndefined();
    expect(frames[0]!.events[0]).toMatchObject({ type: 'start' });
    expect(textOf(frames)).toBe('Hello');
    expect(body.discarded).toBe(true);
    expect(h.transport.sent[0]!.body).toMatchObject({ model: 'up-model', stream: true });
    expect(typesOf(h.events)).toEqual(['request.accepted', 'attempt.started']);
    expect(dataOf(h.events, 'attempt.started')).toEqual([{ backend: 'a', model: 'up-model', mode: 'fresh' }]);
    expectReleased(tx);
  });

  test('the circuit records success when content arrives, not when the stream ends', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    const body = new ScriptedBody(openaiWire.text('Hi'));
    h.transport.script('a', { status: 200, body });
    const a = asStream(await attempt(tx));
    expect(circuit.success).toHaveBeenCalledTimes(1);
    body.push(openaiWire.finish(), openaiWire.usage(1, 1));
    await drain(a.frames);
    expect(circuit.success).toHaveBeenCalledTimes(1);
    expect(circuit.failure).not.toHaveBeenCalled();
  });

  test('each attempt on an exchange gets the next number (counted across the request)', async () => {
    const tx = exchange();
    h.transport.script('a', answer(500, openaiWire.error('down', 'server_error')), { status: 200, body: new ScriptedBody(openaiWire.text('x'), openaiWire.finish(), openaiWire.usage(1, 1)) });
    await expect(attempt(tx)).rejects.toMatchObject({ code: 'upstream_error' });
    const a = await attempt(tx);
    expect(a.attempt).toBe(2);
    expect(tx.lifecycle.attempt).toBe(2);
    expect(h.events.filter((e) => e.type === 'attempt.failed').map((e) => e.attempt)).toEqual([1]);
  });

  test('an answer that finishes without text (finish, then the terminator) is an answer, not a truncation', async () => {
    const tx = exchange();
    h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.finish('length'), openaiWire.usage(1, 0), openaiWire.done).end() });
    const { frames, error } = await drain(asStream(await attempt(tx)).frames);
    expect(error).toBeUndefined();
    expect(frames.flatMap((f) => f.events)).toContainEqual({ type: 'finish', choice: 0, reason: 'length' });
  });
});

describe('clocks', () => {
  test('no response headers within firstTokenMs -> upstream_no_response (504, phase headers, retriable: retry.onTimeout decides), counted against the deployment, not the host', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    h.transport.script('a', { hang: true });
    const outcome = run(tx);
    await vi.advanceTimersByTimeAsync(timeouts.firstTokenMs);
    const err = await outcome;
    expect(err).toMatchObject({ code: 'upstream_no_response', status: 504, details: { phase: 'headers', backend: 'a', fallback: 'retries_exhausted' } });
    expect((err as AirouteError).retriable).toBe(true);
    expect(circuit.failure).toHaveBeenCalledTimes(1);
    expect(circuit.host.failure).not.toHaveBeenCalled();
    expect(circuit.host.neutral).toHaveBeenCalledTimes(1);
    expect(dataOf(h.events, 'attempt.failed')).toEqual([
      { backend: 'a', phase: 'headers', code: 'upstream_no_response', status: 504, retriable: true, message: 'backend "a" sent no response headers within 1000 ms', elapsedMs: timeouts.firstTokenMs },
    ]);
    expectReleased(tx);
  });

  test('headers but no content within firstTokenMs -> upstream_first_token_timeout (504, phase first_token, retriable); the body is released', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    const body = new ScriptedBody(openaiWire.role());
    h.transport.script('a', { status: 200, body });
    const outcome = run(tx);
    await vi.advanceTimersByTimeAsync(timeouts.firstTokenMs);
    const err = await outcome;
    expect(err).toMatchObject({ code: 'upstream_first_token_timeout', status: 504, message: 'backend "a" sent no token within 1000 ms', details: { phase: 'first_token', retriable: true, fallback: 'retries_exhausted' } });
    expect(body.discarded).toBe(true);
    expect(circuit.failure).toHaveBeenCalledTimes(1);
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ phase: 'first_token', code: 'upstream_first_token_timeout', retriable: true });
    expectReleased(tx);
  });

  test('bytes before the first content (a role-only chunk, SSE comments, pings) do not restart the first-token clock: keep-alives from a silent upstream end at firstTokenMs', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.role());
    h.transport.script('a', { status: 200, body });
    const outcome = run(tx);
    for (let t = 0; t < 3; t++) {
      await vi.advanceTimersByTimeAsync(300);
      body.push(': keep-alive\n\n');
    }
    await vi.advanceTimersByTimeAsync(timeouts.firstTokenMs - 900);
    expect(await outcome).toMatchObject({ code: 'upstream_first_token_timeout', details: { phase: 'first_token' } });
    expectReleased(tx);
  });

  test('a role-only chunk is not content: the attempt keeps waiting for the first text rather than returning', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.role(), openaiWire.usage(3, 0));
    h.transport.script('a', { status: 200, body });
    let settled = false;
    const outcome = run(tx).finally(() => (settled = true));
    await settle();
    await settle();
    expect(settled).toBe(false);
    body.push(openaiWire.text('Hi'), openaiWire.finish(), openaiWire.done).end();
    const a = asStream((await outcome) as Answer);
    expect(textOf((await drain(a.frames)).frames)).toBe('Hi');
  });

  test('a stall mid-stream longer than idleMs -> upstream_idle_timeout (phase stream) from the frames; counted against the backend', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    const body = new ScriptedBody(openaiWire.text('partial'));
    h.transport.script('a', { status: 200, body });
    const a = asStream(await attempt(tx));
    const drained = drain(a.frames);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs);
    const { frames, error } = await drained;
    expect(textOf(frames)).toBe('partial');
    expect(error).toMatchObject({ code: 'upstream_idle_timeout', status: 504, message: 'backend "a" stalled for 500 ms mid-response', details: { phase: 'stream', retriable: true, backend: 'a', fallback: 'retries_exhausted' } });
    expect(circuit.success).toHaveBeenCalledTimes(1);
    expect(circuit.failure).toHaveBeenCalledTimes(1);
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ phase: 'stream', code: 'upstream_idle_timeout' });
    expect(body.discarded).toBe(true);
    expectReleased(tx);
  });

  test('a slow but live stream is never cut: every chunk restarts the idle clock', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.text('a'));
    h.transport.script('a', { status: 200, body });
    const a = asStream(await attempt(tx));
    const drained = drain(a.frames);
    for (const t of ['b', 'c', 'd', 'e']) {
      await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
      body.push(openaiWire.text(t));
    }
    await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
    body.push(openaiWire.finish(), openaiWire.usage(1, 5));
    const { frames, error } = await drained;
    expect(error).toBeUndefined();
    expect(textOf(frames)).toBe('abcde');
    expectReleased(tx);
  });

  test('a stall after every choice finished lost only the terminator: the stream ends cleanly', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    // finish but no usage chunk and no [DONE]: the decoder knows the answer is whole, not that the stream is over
    const body = new ScriptedBody(openaiWire.text('whole'), openaiWire.finish());
    h.transport.script('a', { status: 200, body });
    const drained = drain(asStream(await attempt(tx)).frames);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs);
    const { frames, error } = await drained;
    expect(error).toBeUndefined();
    expect(textOf(frames)).toBe('whole');
    expect(circuit.failure).not.toHaveBeenCalled();
    expect(typesOf(h.events)).not.toContain('attempt.failed');
  });
});

describe('clocks, continued', () => {
  test('the first-token clock runs from the attempt\'s start: headers that arrive late do not restart it', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.role());
    const late: TargetExchange = {
      ...tx,
      transport: () => ({ send: (_req, opts) => new Promise((resolve) => setTimeout(() => { body.bind(opts.cancel); resolve({ status: 200, headers: {}, body, discard: () => body.discard() }); }, 600)) }),
    };
    let settled = false;
    const outcome = run(late).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(600);
    await vi.advanceTimersByTimeAsync(timeouts.firstTokenMs - 601);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await outcome).toMatchObject({ code: 'upstream_first_token_timeout', details: { phase: 'first_token' } });
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ elapsedMs: timeouts.firstTokenMs });
  });

  test('after the first content, keep-alive comments are liveness: a stream that pings within idleMs is never cut', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.text('a'));
    h.transport.script('a', { status: 200, body });
    const drained = drain(asStream(await attempt(tx)).frames);
    for (let i = 0; i < 4; i++) {
      await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
      body.push(': ping\n\n');
    }
    await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
    body.push(openaiWire.text('b'), openaiWire.finish(), openaiWire.done).end();
    const { frames, error } = await drained;
    expect(error).toBeUndefined();
    expect(textOf(frames)).toBe('ab');
  });

  test('a client that does not read for longer than idleMs is not the upstream stalling: the stream goes on when it reads again', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    const body = new ScriptedBody(openaiWire.text('a'));
    h.transport.script('a', { status: 200, body });
    const a = asStream(await attempt(tx));
    const it = a.frames[Symbol.asyncIterator]();
    // before the first read from the upstream (the frame the attempt waited for) ...
    expect((await it.next()).done).toBe(false);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs * 3);
    // ... and after one
    body.push(openaiWire.text('b'));
    expect((await it.next()).done).toBe(false);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs * 3);
    body.push(openaiWire.text('c'), openaiWire.finish(), openaiWire.done).end();
    const { frames, error } = await drain({ [Symbol.asyncIterator]: () => it });
    expect(error).toBeUndefined();
    expect(textOf(frames)).toBe('c');
    expect(circuit.failure).not.toHaveBeenCalled();
  });

  test('a client that leaves after every choice finished (no terminator yet) ends the frames with its reason, not as a clean end', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.text('whole'), openaiWire.finish());
    h.transport.script('a', { status: 200, body });
    const drained = drain(asStream(await attempt(tx)).frames);
    await settle();
    tx.abort(cancelled());
    const { error } = await drained;
    expect(error).toMatchObject({ code: 'cancelled', details: { phase: 'stream' } });
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ code: 'cancelled', phase: 'stream' });
  });

  test('a connection lost mid-stream is a reset in phase stream, whatever its errno (a connect errno there is no connect failure)', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.text('so far'));
    h.transport.script('a', { status: 200, body });
    const drained = drain(asStream(await attempt(tx)).frames);
    body.fail(Object.assign(new Error('read ETIMEDOUT'), { code: 'ETIMEDOUT' }));
    const { error } = await drained;
    expect(error).toMatchObject({ code: 'upstream_reset', status: 502, message: 'backend "a" closed the connection mid-stream (ETIMEDOUT)', details: { phase: 'stream', retriable: true } });
  });

  test('the transport failing with its own abort error after our clock fired: the failure is the clock\'s, not a reset', async () => {
    class UndiciLikeBody extends ScriptedBody {
      override bind(cancel: Cancellation): void {
        cancel.onCancel(() => this.fail(Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' })));
      }
    }
    const tx = exchange();
    h.transport.script('a', { status: 200, body: new UndiciLikeBody(openaiWire.role()) });
    const outcome = run(tx);
    await vi.advanceTimersByTimeAsync(timeouts.firstTokenMs);
    expect(await outcome).toMatchObject({ code: 'upstream_first_token_timeout', details: { phase: 'first_token' } });
  });
});

describe('truncation', () => {
  test('the upstream closes cleanly mid-answer (no finish, no terminator) -> upstream_truncated, never a complete answer', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.text('Half an ans'));
    h.transport.script('a', { status: 200, body });
    const a = asStream(await attempt(tx));
    body.end();
    const { frames, error } = await drain(a.frames);
    expect(textOf(frames)).toBe('Half an ans');
    expect(error).toMatchObject({ code: 'upstream_truncated', status: 502, message: 'backend "a" ended the stream before it finished', details: { phase: 'stream', retriable: true, fallback: 'retries_exhausted' } });
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ code: 'upstream_truncated', phase: 'stream' });
  });

  test('the upstream closes before any content -> the attempt fails with upstream_truncated (retriable), nothing returned', async () => {
    const tx = exchange();
    h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role()).end() });
    const err = await run(tx);
    expect(err).toMatchObject({ code: 'upstream_truncated', status: 502, details: { retriable: true } });
    expectReleased(tx);
  });

  test('a stream that ends before any content reports phase first_token in its error and attempt.failed', async () => {
    const tx = exchange();
    h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role()).end() });
    const err = await run(tx);
    expect(err).toMatchObject({ code: 'upstream_truncated', details: { phase: 'first_token' } });
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ code: 'upstream_truncated', phase: 'first_token' });
  });
});

describe('failures before the first content', () => {
  test.each<[string, string, unknown]>([
    ['ECONNREFUSED', 'upstream_connect_failed', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['a connect timeout wrapped by undici (code on the cause)', 'upstream_connect_failed', Object.assign(new Error('fetch failed'), { cause: { code: 'UND_ERR_CONNECT_TIMEOUT' } })],
    ['a TLS certificate failure', 'upstream_connect_failed', Object.assign(new Error('certificate has expired'), { code: 'CERT_HAS_EXPIRED' })],
    ['ECONNRESET before the headers', 'upstream_reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['an error with no errno', 'upstream_reset', new Error('other side closed')],
  ])('send fails with %s -> %s, retriable, counted against the host (a reset before any response: against the deployment too)', async (_name, code, fault) => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    h.transport.script('a', { fail: fault });
    const err = await run(tx);
    expect(err).toMatchObject({ code, status: 502, details: { retriable: true, fallback: 'retries_exhausted', backend: 'a', phase: code === 'upstream_reset' ? 'headers' : 'connect' } });
    expect((err as AirouteError).cause).toBe(fault);
    expect(circuit.host.failure).toHaveBeenCalledTimes(1);
    // A refused connection says nothing about the model; a reset may be the model's worker.
    expect(circuit.failure).toHaveBeenCalledTimes(code === 'upstream_reset' ? 1 : 0);
    expect(circuit.neutral).toHaveBeenCalledTimes(code === 'upstream_reset' ? 0 : 1);
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ code, retriable: true });
    expectReleased(tx);
  });

  test.each<[string, unknown, string]>([
    ['an errno', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'backend "a" closed the connection before answering (ECONNRESET)'],
    ['no errno', new Error('other side closed'), 'backend "a" closed the connection before answering'],
    ['a rejection that is not an error at all', undefined, 'backend "a" closed the connection before answering'],
  ])('a connection lost before the headers, with %s, says so in its message', async (_name, fault, message) => {
    const tx = exchange();
    h.transport.script('a', { fail: fault });
    expect(await run(tx)).toMatchObject({ code: 'upstream_reset', message, details: { phase: 'headers' } });
  });

  test('a connection reset while a complete answer is read: upstream_reset in phase first_token', async () => {
    const tx = exchange('m', chatBody('m'));
    h.transport.script('a', { status: 200, body: new ScriptedBody('{"id":').fail(Object.assign(new Error('reset'), { code: 'ECONNRESET' })) });
    expect(await run(tx)).toMatchObject({ code: 'upstream_reset', details: { phase: 'first_token' } });
  });

  test('a connection reset before the first content of a stream: upstream_reset in phase first_token', async () => {
    const tx = exchange();
    h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role()).fail(Object.assign(new Error('reset'), { code: 'ECONNRESET' })) });
    expect(await run(tx)).toMatchObject({ code: 'upstream_reset', message: 'backend "a" closed the connection before answering (ECONNRESET)', details: { phase: 'first_token' } });
  });

  test('a refused connection names the backend and the errno', async () => {
    const tx = exchange();
    h.transport.script('a', connectError('ECONNREFUSED'));
    expect(await run(tx)).toMatchObject({ code: 'upstream_connect_failed', message: 'cannot connect to backend "a" (ECONNREFUSED)' });
  });

  test('5xx -> classified by the adapter (upstream_error, retriable, phase headers, backend named); the body is released', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    const reply = answer(503, openaiWire.error('The server is overloaded', 'server_error'));
    h.transport.script('a', reply);
    const err = await run(tx);
    expect(err).toMatchObject({ code: 'upstream_error', status: 503, message: 'The server is overloaded', details: { retriable: true, phase: 'headers', backend: 'a' } });
    expect(circuit.host.success).toHaveBeenCalledTimes(1); // the host answered: the model is at fault, not the host
    expect(circuit.host.failure).not.toHaveBeenCalled();
    expect('body' in reply && reply.body.discarded).toBe(true);
    expect(circuit.failure).toHaveBeenCalledTimes(1);
    expectReleased(tx);
  });

  test('429 -> upstream_rate_limited carrying the Retry-After hint', async () => {
    const tx = exchange();
    h.transport.script('a', answer(429, openaiWire.error('Rate limit reached', 'rate_limit_error'), { 'retry-after-ms': '250' }));
    expect(await run(tx)).toMatchObject({ code: 'upstream_rate_limited', status: 429, details: { retriable: true, retryAfterMs: 250 } });
  });

  test.each<[number, string, string]>([
    [400, 'invalid_request', openaiWire.error('Unrecognized request argument supplied: foo')],
    [401, 'upstream_auth', openaiWire.error('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key')],
  ])('%i -> %s, not retriable, and neutral for the circuit (the client or the config is at fault, not the backend)', async (status, code, body) => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    h.transport.script('a', answer(status, body));
    const err = await run(tx);
    expect(err).toMatchObject({ code, status });
    expect((err as AirouteError).retriable).toBe(false);
    expect(circuit.neutral).toHaveBeenCalledTimes(1);
    expect(circuit.failure).not.toHaveBeenCalled();
  });

  test('an API key echoed in an error body never reaches the error or the attempt.failed event', async () => {
    const tx = exchange();
    h.transport.script('a', answer(401, openaiWire.error(`Incorrect API key provided: ${KEY}`, 'invalid_request_error', 'invalid_api_key')));
    const err = await run(tx);
    expect((err as Error).message).not.toContain(KEY);
    expect((err as Error).message).toContain('[redacted]');
    expect(JSON.stringify(h.events)).not.toContain(KEY);
  });

  test('an error body that never ends is cut by the idle clock; the status alone classifies the failure', async () => {
    const tx = exchange();
    const body = new ScriptedBody('{"error": {"mess');
    h.transport.script('a', { status: 502, body });
    const outcome = run(tx);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs);
    expect(await outcome).toMatchObject({ code: 'upstream_error', status: 502, details: { retriable: true } });
    expect(body.discarded).toBe(true);
    expectReleased(tx);
  });

  test('an error body that arrives slowly (each chunk within idleMs) is read whole', async () => {
    const tx = exchange();
    const text = openaiWire.error('The server is overloaded', 'server_error');
    const body = new ScriptedBody(text.slice(0, 10));
    h.transport.script('a', { status: 503, body });
    const outcome = run(tx);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
    body.push(text.slice(10, 20));
    await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
    body.push(text.slice(20)).end();
    expect(await outcome).toMatchObject({ code: 'upstream_error', status: 503, message: 'The server is overloaded' });
  });

  test('an error body whose connection fails is reported as empty: the status alone speaks', async () => {
    const tx = exchange();
    h.transport.script('a', { status: 502, body: new ScriptedBody('{"error": {"mess').fail(Object.assign(new Error('reset'), { code: 'ECONNRESET' })) });
    expect(await run(tx)).toMatchObject({ code: 'upstream_error', status: 502, message: 'upstream answered 502' });
  });

  test('the upstream\'s request id travels on the error (for the client\'s support ticket)', async () => {
    const tx = exchange();
    h.transport.script('a', answer(503, openaiWire.error('down', 'server_error'), { 'x-request-id': 'req_up_42' }));
    const err = await run(tx);
    expect((err as AirouteError).details.responseHeaders).toMatchObject({ 'x-request-id': 'req_up_42' });
  });

  test('an error event in the stream before any content fails the attempt cleanly (retriable), in the provider\'s terms', async () => {
    const tx = exchange();
    h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), sse({ error: { message: 'overloaded', type: 'server_error' } })) });
    expect(await run(tx)).toMatchObject({ code: 'upstream_error', message: 'overloaded', details: { retriable: true } });
  });

  test('a malformed chunk mid-stream fails the frames with upstream_malformed after the good frames', async () => {
    const tx = exchange();
    const body = new ScriptedBody(openaiWire.text('good'));
    h.transport.script('a', { status: 200, body });
    const a = asStream(await attempt(tx));
    body.push(openaiWire.text(' more') + 'data: {"choices": [\n\n');
    const { frames, error } = await drain(a.frames);
    expect(textOf(frames)).toBe('good more');
    expect(error).toMatchObject({ code: 'upstream_malformed', details: { retriable: true } });
  });

  test('a request the backend cannot express is refused before anything is sent: incompatible, not retriable, phase request', async () => {
    const tx = exchange('claude', { ...chatBody('claude', { stream: true }), logit_bias: { '50256': -100 } });
    const err = await run(tx);
    expect(err).toMatchObject({ code: 'unsupported_parameter', status: 400, details: { incompatible: true, phase: 'request', backend: 'b' } });
    expect((err as AirouteError).retriable).toBe(false);
    expect(h.transport.sent).toHaveLength(0);
    expect(dataOf(h.events, 'attempt.failed')[0]).toMatchObject({ phase: 'request', code: 'unsupported_parameter' });
  });

  test('embeddings on a backend that serves them: sent to its embeddings endpoint with the target\'s model; the parsed vectors are the answer', async () => {
    const x = h.open(chatBody('m'));
    const request: EmbeddingsRequest = { operation: 'embeddings', format: 'openai', body: { model: 'm', input: 'hi' }, model: 'm', stream: false };
    const raw = JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.25, -0.5] }], model: 'up-model', usage: { prompt_tokens: 1, total_tokens: 1 } });
    h.transport.script('a', answer(200, raw));
    const a = await attempt({ ...x, request, target: x.route.targets[0]! });
    if (a.kind !== 'json') throw new Error(`expected json, got ${a.kind}`);
    expect(a.embeddings).toStrictEqual(JSON.parse(raw));
    expect(a.raw).toBe(raw);
    expect(a.result).toBeUndefined();
    expect(h.transport.sent[0]!.request.url).toBe('http://127.0.0.1:9/v1/embeddings');
    expect(h.transport.sent[0]!.body).toStrictEqual({ model: 'up-model', input: 'hi' });
  });

  test.each([
    ['capabilities that say no embeddings', { embeddings: false }, {}],
    ['an adapter that cannot build an embeddings request', {}, { embeddingsRequest: undefined }],
  ])('embeddings on a backend with %s: unsupported_parameter, nothing sent', async (_name, caps, adapter) => {
    const x = h.open(chatBody('m'));
    const t = x.route.targets[0]!;
    const backend = { ...t.backend, caps: { ...t.backend.caps, ...caps }, adapter: { ...t.backend.adapter, ...adapter } };
    const request: EmbeddingsRequest = { operation: 'embeddings', format: 'openai', body: { model: 'm', input: 'hi' }, model: 'm', stream: false };
    const err = await run({ ...x, request, target: { ...t, backend } });
    expect(err).toMatchObject({ code: 'unsupported_parameter', status: 400, message: 'backend "a" (openai-compatible) does not serve embeddings', details: { incompatible: true } });
    expect(h.transport.sent).toHaveLength(0);
  });

  test('embeddings on a backend without them: unsupported_parameter, incompatible', async () => {
    const x = h.open(chatBody('claude'));
    const request: EmbeddingsRequest = { operation: 'embeddings', format: 'openai', body: { model: 'claude', input: 'hi' }, model: 'claude', stream: false };
    const err = await run({ ...x, request, target: x.route.targets[0]! });
    expect(err).toMatchObject({ code: 'unsupported_parameter', details: { incompatible: true } });
    expect(h.transport.sent).toHaveLength(0);
  });
});

describe('the client leaves', () => {
  test('while waiting for headers: the attempt fails with the client\'s reason, neutral for the circuit', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    h.transport.script('a', { hang: true });
    const outcome = run(tx);
    await settle();
    tx.abort(cancelled());
    expect(await outcome).toMatchObject({ code: 'cancelled', status: 499, details: { backend: 'a', phase: 'connect' } });
    expect(circuit.neutral).toHaveBeenCalledTimes(1);
    expect(circuit.failure).not.toHaveBeenCalled();
    expectReleased(tx);
  });

  test('mid-stream: the frames end with the client\'s reason; the body is released; neutral for the circuit', async () => {
    const tx = exchange();
    const circuit = spyCircuit(tx);
    const body = new ScriptedBody(openaiWire.text('so far'));
    h.transport.script('a', { status: 200, body });
    const a = asStream(await attempt(tx));
    const drained = drain(a.frames);
    await settle();
    tx.abort(cancelled());
    const { error } = await drained;
    expect(error).toMatchObject({ code: 'cancelled', status: 499, details: { phase: 'stream' } });
    expect(body.discarded).toBe(true);
    expect(circuit.failure).not.toHaveBeenCalled();
    expect(circuit.neutral).toHaveBeenCalledTimes(1);
    expectReleased(tx);
  });

  test.each<[string, boolean, string]>([
    ['before the first content of a stream', true, openaiWire.role()],
    ['while a complete answer is read', false, '{"id":'],
  ])('%s: the attempt fails in phase first_token with the client\'s reason; the body is released', async (_name, stream, sent) => {
    const tx = exchange('m', chatBody('m', { stream }));
    const body = new ScriptedBody(sent);
    h.transport.script('a', { status: 200, body });
    const outcome = run(tx);
    await settle();
    tx.abort(cancelled());
    expect(await outcome).toMatchObject({ code: 'cancelled', details: { phase: 'first_token' } });
    expect(body.discarded).toBe(true);
    expectReleased(tx);
  });

  test('already gone before the attempt: nothing waits on the upstream', async () => {
    const tx = exchange();
    tx.abort(cancelled());
    h.transport.script('a', { hang: true });
    expect(await run(tx)).toMatchObject({ code: 'cancelled', status: 499 });
    expectReleased(tx);
  });
});

describe('complete (non-streamed) answers', () => {
  test('the body is the answer: raw bytes kept, parsed by the adapter, the circuit told', async () => {
    const tx = exchange('m', chatBody('m'));
    const circuit = spyCircuit(tx);
    const raw = openaiWire.completion('Hello!');
    h.transport.script('a', answer(200, raw));
    const a = await attempt(tx);
    if (a.kind !== 'json') throw new Error('expected json');
    expect(a.raw).toBe(raw);
    expect(a.result?.choices[0]).toMatchObject({ text: 'Hello!', finishReason: 'stop' });
    expect(a.result?.model).toBe('up-model');
    expect(circuit.success).toHaveBeenCalledTimes(1);
    expect(h.transport.sent[0]!.body.stream).toBe(false);
    expectReleased(tx);
  });

  test('a result without a model name gets the target\'s', async () => {
    const tx = exchange('m', chatBody('m'));
    h.transport.script('a', answer(200, openaiWire.completion('x', { model: '' })));
    const a = await attempt(tx);
    expect(a.kind === 'json' && a.result?.model).toBe('up-model');
  });

  test('an unparsable body -> upstream_malformed (retriable), the body released', async () => {
    const tx = exchange('m', chatBody('m'));
    const reply = answer(200, '{"id": "chatcmpl-1", "choi');
    h.transport.script('a', reply);
    expect(await run(tx)).toMatchObject({ code: 'upstream_malformed', status: 502, details: { retriable: true } });
    expect('body' in reply && reply.body.discarded).toBe(true);
    expectReleased(tx);
  });

  test('no header clock: a non-streamed answer may take longer than firstTokenMs (the upstream composes it whole); only the exchange ends the wait', async () => {
    const tx = exchange('m', chatBody('m'));
    h.transport.script('a', { hang: true });
    let done = false;
    const outcome = run(tx).finally(() => (done = true));
    await vi.advanceTimersByTimeAsync(timeouts.firstTokenMs * 10);
    expect(done).toBe(false);
    tx.abort(new AirouteError('request_timeout', 504, 'total timeout'));
    expect(await outcome).toMatchObject({ code: 'request_timeout', status: 504 });
  });

  test('a body that stalls longer than idleMs -> upstream_idle_timeout', async () => {
    const tx = exchange('m', chatBody('m'));
    const body = new ScriptedBody('{"id":');
    h.transport.script('a', { status: 200, body });
    const outcome = run(tx);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs);
    expect(await outcome).toMatchObject({ code: 'upstream_idle_timeout', status: 504 });
    expect(body.discarded).toBe(true);
    expectReleased(tx);
  });
});

describe('complete answers, continued', () => {
  test('a body that arrives slowly (each chunk within idleMs) is read whole', async () => {
    const tx = exchange('m', chatBody('m'));
    const raw = openaiWire.completion('slow');
    const body = new ScriptedBody(raw.slice(0, 20));
    h.transport.script('a', { status: 200, body });
    const outcome = run(tx);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
    body.push(raw.slice(20, 40));
    await vi.advanceTimersByTimeAsync(timeouts.idleMs - 1);
    body.push(raw.slice(40)).end();
    const a = (await outcome) as Answer;
    expect(a.kind === 'json' && a.raw).toBe(raw);
  });

  test('same format with limits.maxResponseBytes below the inspect bound: past that limit the answer streams through as bytes', async () => {
    const small = harness({ ...doc, limits: { maxResponseBytes: 65_536 } });
    const x = small.open(chatBody('m'));
    const raw = openaiWire.completion('y'.repeat(100_000));
    small.transport.script('a', { status: 200, body: new ScriptedBody(raw).end() });
    const a = await attempt({ ...x, target: x.route.targets[0]! });
    expect(a.kind).toBe('bytes');
  });
});

describe('complete answers past the inspect bound (1 MiB)', () => {
  const big = () => openaiWire.completion('x'.repeat(1_200_000));
  /** A non-streamed attempt whose upstream has sent the first 1.1 MB of a big answer (the test feeds or fails the rest). */
  async function openBytes() {
    const tx = exchange('m', chatBody('m'));
    const raw = big();
    const body = new ScriptedBody(raw.slice(0, 1_100_000));
    h.transport.script('a', { status: 200, body });
    const a = await attempt(tx);
    if (a.kind !== 'bytes') throw new Error(`expected bytes, got ${a.kind}`);
    return { tx, raw, body, a };
  }

  test('same format: a bytes answer (the head read so far, the rest on demand, the upstream\'s length); reading to the end releases the upstream', async () => {
    const tx = exchange('m', chatBody('m'));
    const circuit = spyCircuit(tx);
    const raw = big();
    const body = new ScriptedBody(raw.slice(0, 1_100_000), raw.slice(1_100_000)).end();
    h.transport.script('a', { status: 200, headers: { 'content-length': String(raw.length) }, body });
    const a = await attempt(tx);
    if (a.kind !== 'bytes') throw new Error(`expected bytes, got ${a.kind}`);
    expect(a.length).toBe(raw.length);
    expect(circuit.success).toHaveBeenCalledTimes(1);
    const parts: Buffer[] = [a.head];
    for await (const chunk of a.rest) parts.push(Buffer.from(chunk));
    expect(Buffer.concat(parts).toString('utf8')).toBe(raw);
    expect(body.discarded).toBe(true);
    expectReleased(tx);
  });

  test('same format, no usable content-length: no length is claimed', async () => {
    const tx = exchange('m', chatBody('m'));
    const raw = big();
    h.transport.script('a', { status: 200, headers: { 'content-length': 'abc' }, body: new ScriptedBody(raw).end() });
    const a = await attempt(tx);
    expect(a.kind).toBe('bytes');
    expect('length' in a).toBe(false);
  });

  test('same format, a negative content-length: no length is claimed', async () => {
    const tx = exchange('m', chatBody('m'));
    h.transport.script('a', { status: 200, headers: { 'content-length': '-1' }, body: new ScriptedBody(big()).end() });
    const a = await attempt(tx);
    expect(a.kind).toBe('bytes');
    expect('length' in a).toBe(false);
  });

  test('a reader that pauses between reads of the rest is not the upstream stalling', async () => {
    const { tx, raw, body, a } = await openBytes();
    await vi.advanceTimersByTimeAsync(timeouts.idleMs * 3);
    body.push(raw.slice(1_100_000, 1_150_000));
    const it = a.rest[Symbol.asyncIterator]();
    const parts: Buffer[] = [a.head, Buffer.from((await it.next()).value as Uint8Array)];
    await vi.advanceTimersByTimeAsync(timeouts.idleMs * 3);
    body.push(raw.slice(1_150_000)).end();
    for (let n = await it.next(); !n.done; n = await it.next()) parts.push(Buffer.from(n.value));
    expect(Buffer.concat(parts).toString('utf8')).toBe(raw);
    expectReleased(tx);
  });

  test('the client leaves while the rest is read: the rest fails with its reason in phase stream; the upstream released', async () => {
    const { tx, body, a } = await openBytes();
    const next = a.rest[Symbol.asyncIterator]().next().catch((e: unknown) => e);
    await settle();
    tx.abort(cancelled());
    expect(await next).toMatchObject({ code: 'cancelled', details: { phase: 'stream' } });
    expect(body.discarded).toBe(true);
    expectReleased(tx);
  });

  test('a connection reset while the rest is read: upstream_reset in phase stream', async () => {
    const { body, a } = await openBytes();
    body.fail(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    const next = await a.rest[Symbol.asyncIterator]().next().catch((e: unknown) => e);
    expect(next).toMatchObject({ code: 'upstream_reset', message: 'backend "a" closed the connection mid-stream (ECONNRESET)', details: { phase: 'stream' } });
  });

  test('the rest stalls longer than idleMs while it is read -> upstream_idle_timeout (phase stream); a reader that waits is not the upstream stalling', async () => {
    const { tx, a } = await openBytes();
    // nobody reads for a while: no clock runs against the upstream
    await vi.advanceTimersByTimeAsync(timeouts.idleMs * 3);
    const it = a.rest[Symbol.asyncIterator]();
    const next = it.next().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(timeouts.idleMs);
    expect(await next).toMatchObject({ code: 'upstream_idle_timeout', status: 504, details: { phase: 'stream' } });
    expectReleased(tx);
  });

  test('another format must be translated, so it is held whole: past limits.maxResponseBytes -> response_too_large, the upstream released', async () => {
    const small = harness({ ...doc, limits: { maxResponseBytes: 1_100_000 } });
    const x = small.open(chatBody('m', { format: 'anthropic' }), 'anthropic');
    const tx: TargetExchange = { ...x, target: x.route.targets[0]! };
    const raw = big();
    const body = new ScriptedBody(raw.slice(0, 1_000_000), raw.slice(1_000_000)).end();
    small.transport.script('a', { status: 200, body });
    const err = await attempt(tx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'response_too_large', status: 502, details: { phase: 'first_token' } });
    expect((err as Error).message).toContain('1100000 bytes');
    expect((err as Error).message).toContain('from openai to anthropic');
    expect(body.discarded).toBe(true);
    expectReleased(tx);
  });
});

describe('continuations (resume)', () => {
  const anthropicRefusal = JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'This model does not support assistant message prefill.' } });
  const anthropicStream = (text: string) =>
    new ScriptedBody(
      sse({ type: 'message_start', message: { id: 'msg_1', model: 'claude-up', usage: { input_tokens: 3, output_tokens: 0 } } }, 'message_start'),
      sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'),
      sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
    );

  test('prefill: the delivered text goes as the assistant prefix without its trailing whitespace; mode and prefix are on the answer', async () => {
    const tx = exchange('claude', chatBody('claude', { stream: true }), { delivered: 'Hello there \n', prefillRefused: new Set() });
    h.transport.script('b', { status: 200, body: anthropicStream(' friend') });
    const a = asStream(await attempt(tx));
    expect(a).toMatchObject({ mode: 'prefill', sentPrefill: 'Hello there' });
    expect(JSON.stringify(h.transport.sent[0]!.body.messages)).toContain('"Hello there"');
    expect(dataOf(h.events, 'attempt.started')[0]).toMatchObject({ backend: 'b', mode: 'prefill' });
  });

  test('prefill refused with a 400 -> prefill_rejected (retriable at once), never the 400 itself; the backend is marked as refusing prefill', async () => {
    const resume: ResumePoint = { delivered: 'Hello there', prefillRefused: new Set() };
    const tx = exchange('claude', chatBody('claude', { stream: true }), resume);
    const circuit = spyCircuit(tx);
    h.transport.script('b', answer(400, anthropicRefusal));
    const err = await run(tx);
    expect(err).toMatchObject({ code: 'prefill_rejected', status: 400, details: { retriable: true, retryAfterMs: 0, fallback: 'prefill_rejected', backend: 'b', phase: 'headers' } });
    expect((err as Error).message).toContain('assistant message prefill');
    expect([...resume.prefillRefused]).toEqual(['b']);
    // A refused prefix is a capability, not ill health: neutral (the resume restarts in verify mode);
    // the host answered.
    expect(circuit.failure).not.toHaveBeenCalled();
    expect(circuit.neutral).toHaveBeenCalledTimes(1);
    expect(circuit.host.success).toHaveBeenCalledTimes(1);

    // the next try on that backend verifies instead: no prefix sent
    h.transport.script('b', { status: 200, body: anthropicStream('Hello') });
    const again = asStream(await attempt({ ...tx }));
    expect(again.mode).toBe('verify');
    expect(again.sentPrefill).toBeUndefined();
    expect(JSON.stringify(h.transport.sent[1]!.body.messages)).not.toContain('Hello there');
  });

  test('a 400 outside prefill mode stays the client error it is', async () => {
    const tx = exchange('claude', chatBody('claude', { stream: true }), { delivered: 'Hi', prefillRefused: new Set(['b']) });
    h.transport.script('b', answer(400, anthropicRefusal));
    const err = await run(tx);
    expect(err).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(dataOf(h.events, 'attempt.started')[0]).toMatchObject({ mode: 'verify' });
  });

  test('a 5xx in prefill mode is not mistaken for a refused prefix', async () => {
    const resume: ResumePoint = { delivered: 'Hi', prefillRefused: new Set() };
    const tx = exchange('claude', chatBody('claude', { stream: true }), resume);
    h.transport.script('b', answer(500, JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'Internal server error' } })));
    expect(await run(tx)).toMatchObject({ code: 'upstream_error', status: 500 });
    expect(resume.prefillRefused.size).toBe(0);
  });

  test.each<[string, number, string, string]>([
    ['a 422 invalid request', 422, 'invalid_request_error', 'invalid_request'],
    ['a 400 that is not about the request\'s shape (the prompt is too long)', 400, 'invalid_request_error', 'context_length_exceeded'],
  ])('in prefill mode, %s is not mistaken for a refused prefix', async (_name, status, type, code) => {
    const resume: ResumePoint = { delivered: 'Hi', prefillRefused: new Set() };
    const tx = exchange('claude', chatBody('claude', { stream: true }), resume);
    const message = code === 'context_length_exceeded' ? 'prompt is too long: 200000 tokens > 199999 maximum' : 'bad';
    h.transport.script('b', answer(status, JSON.stringify({ type: 'error', error: { type, message } })));
    expect(await run(tx)).toMatchObject({ code, status });
    expect(resume.prefillRefused.size).toBe(0);
  });

  test('a target whose resume strategy is verify continues in verify mode', async () => {
    const x = h.open(chatBody('claude', { stream: true }));
    const target = { ...x.route.targets[0]!, resume: 'verify' as const };
    h.transport.script('b', { status: 200, body: anthropicStream('Hello') });
    const a = asStream(await attempt({ ...x, target, resume: { delivered: 'Hello', prefillRefused: new Set() } }));
    expect(a.mode).toBe('verify');
  });
});
