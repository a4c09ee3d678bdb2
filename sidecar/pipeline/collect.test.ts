// collect() runs an exchange without a client connection (async requests): the answer is folded
// into one complete result in the endpoint's non-streamed format, and the caller ends the request.
import { expect, test } from 'vitest';
import { TERMINAL_EVENTS } from '../events/types.ts';
import { cancelled } from '../sidecar.ts';
import { resumedOnFallback, ScriptedBody, answer, chatBody, dataOf, harness, openaiWire, sse } from '../../test/support/pipeline.ts';
import { collect } from './collect.ts';

const doc = {
  backends: [{ name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' }],
  routes: [
    { model: 'm', backends: [{ backend: 'a', model: 'target-model' }], retry: { attempts: 1 } },
    { model: 'no-resume', backends: [{ backend: 'a', model: 'target-model' }], retry: { attempts: 1 }, resume: 'none' as const },
  ],
};

const terminals = (h: ReturnType<typeof harness>) => h.events.filter((e) => TERMINAL_EVENTS.has(e.type));

test('a complete answer of the client\'s format: the upstream\'s body as a value; deltas emitted; no terminal event (the caller finishes)', async () => {
  const h = harness(doc);
  h.transport.script('a', answer(200, openaiWire.completion('Hello!', { system_fingerprint: 'fp_keep' })));
  const out = await collect(h.open(chatBody('m')));
  expect(out.ok).toBe(true);
  if (!out.ok) return;
  expect(out.body).toMatchObject({ object: 'chat.completion', system_fingerprint: 'fp_keep', choices: [{ message: { content: 'Hello!' } }] });
  expect(out.tally).toMatchObject({ backend: 'a', model: 'target-model', usage: { inputTokens: 3, outputTokens: 2 } });
  expect(dataOf(h.events, 'content.delta')).toEqual([{ choice: 0, text: 'Hello!' }]);
  expect(terminals(h)).toEqual([]);
  expect(h.records).toEqual([]);
});

test('a streamed answer is folded into one non-streamed result in the endpoint\'s format, with the stream\'s usage and finish', async () => {
  const h = harness(doc);
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text('Hel'), openaiWire.text('lo'), openaiWire.finish('length'), openaiWire.usage(4, 2), openaiWire.done).end() });
  const out = await collect(h.open(chatBody('m', { stream: true, format: 'anthropic' }), 'anthropic'));
  expect(out.ok).toBe(true);
  if (!out.ok) return;
  expect(out.body).toMatchObject({ type: 'message', model: 'up-model', content: [{ type: 'text', text: 'Hello' }], stop_reason: 'max_tokens', usage: { input_tokens: 4, output_tokens: 2 } });
  expect(out.tally.usage).toEqual({ inputTokens: 4, outputTokens: 2 });
  expect(out.tally.finish).toEqual(['length']);
  expect(out.tally.chunks).toBe(5); // one per upstream frame
  expect(out.tally.firstByteAt).toBeTypeOf('number');
  expect(dataOf(h.events, 'content.delta').map((d) => d.text)).toEqual(['Hel', 'lo']);
  expect(terminals(h)).toEqual([]);
});

test('a streamed result without a model name gets the target\'s', async () => {
  const h = harness(doc);
  const chunk = (delta: object, finish: string | null) => sse({ id: 'c1', choices: [{ index: 0, delta, finish_reason: finish }] });
  h.transport.script('a', { status: 200, body: new ScriptedBody(chunk({ content: 'Hi' }, null), chunk({}, 'stop'), openaiWire.usage(1, 1)).end() });
  const out = await collect(h.open(chatBody('m', { stream: true })));
  expect(out.ok && out.body).toMatchObject({ model: 'target-model', choices: [{ message: { content: 'Hi' } }] });
});

test('a failure before any content: not ok, with the error and the tally; still no terminal event', async () => {
  const h = harness(doc);
  h.transport.script('a', answer(401, openaiWire.error('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key')));
  const out = await collect(h.open(chatBody('m', { stream: true })));
  expect(out.ok).toBe(false);
  expect(!out.ok && out.err).toMatchObject({ code: 'upstream_auth', status: 401 });
  expect(out.tally.backend).toBeUndefined();
  expect(terminals(h)).toEqual([]);
});

test('a failure mid-stream with no resume: not ok, stream_interrupted saying what had been produced', async () => {
  const h = harness(doc);
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.text('Half')).fail(new Error('other side closed')) });
  const out = await collect(h.open(chatBody('no-resume', { stream: true })));
  expect(!out.ok && out.err).toMatchObject({ code: 'stream_interrupted', details: { extra: { deliveredChars: 4 } } });
});

test('cancelled while running: the cancellation is the error, not what it caused upstream', async () => {
  const h = harness(doc);
  h.transport.script('a', { hang: true });
  const x = h.open(chatBody('m'));
  const pending = collect(x);
  await new Promise<void>((r) => setImmediate(r));
  x.abort(cancelled());
  const out = await pending;
  expect(!out.ok && out.err).toMatchObject({ code: 'cancelled', status: 499 });
});

// ---------------------------------------------------------------- results held for a poll are bounded

const limited = (maxResponseBytes: number) => ({ ...doc, limits: { maxResponseBytes } });

test('a same-format answer past the inspect bound is read whole into the result when it fits limits.maxResponseBytes', async () => {
  const h = harness(limited(4 * 1024 * 1024));
  const raw = openaiWire.completion('y'.repeat(1_200_000));
  const half = Math.floor(raw.length / 2);
  h.transport.script('a', { status: 200, body: new ScriptedBody(raw.slice(0, half), raw.slice(half)).end() });
  const out = await collect(h.open(chatBody('m')));
  expect(out.ok).toBe(true);
  if (!out.ok) return;
  expect((out.body as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toHaveLength(1_200_000);
});

test('a passed-through answer larger than limits.maxResponseBytes is refused as response_too_large, never held', async () => {
  const limit = 1_100_000;
  const h = harness(limited(limit));
  const raw = openaiWire.completion('y'.repeat(1_200_000));
  h.transport.script('a', { status: 200, body: new ScriptedBody(raw.slice(0, 1_050_000), raw.slice(1_050_000)).end() });
  const out = await collect(h.open(chatBody('m')));
  expect(out.ok).toBe(false);
  if (out.ok) return;
  expect(out.err).toMatchObject({ code: 'response_too_large', status: 502 });
  expect(out.err.message).toContain(`${limit} bytes`);
  expect(out.err.message).toContain('as an async result');
});

test('a streamed result is bounded by limits.maxResponseBytes too: text up to the limit is kept, one character past it is refused', async () => {
  const limit = 65_536;
  const streamOf = (chars: number) => new ScriptedBody(openaiWire.role(), openaiWire.text('z'.repeat(chars - 1)), openaiWire.text('z'), openaiWire.finish(), openaiWire.done).end();
  const fits = harness(limited(limit));
  fits.transport.script('a', { status: 200, body: streamOf(limit) });
  const ok = await collect(fits.open(chatBody('no-resume', { stream: true })));
  expect(ok.ok).toBe(true);
  const over = harness(limited(limit));
  over.transport.script('a', { status: 200, body: streamOf(limit + 1) });
  const refused = await collect(over.open(chatBody('no-resume', { stream: true })));
  expect(refused.ok).toBe(false);
  if (!refused.ok) expect(refused.err).toMatchObject({ code: 'response_too_large' });
});

test('a same-format answer read whole in several reads is kept byte for byte, up to exactly limits.maxResponseBytes', async () => {
  const raw = openaiWire.completion('y'.repeat(1_200_000));
  const h = harness(limited(raw.length));
  h.transport.script('a', { status: 200, body: new ScriptedBody(raw.slice(0, 1_100_000), raw.slice(1_100_000, 1_150_000), raw.slice(1_150_000)).end() });
  const out = await collect(h.open(chatBody('m')));
  expect(out.ok).toBe(true);
  expect(out.ok && out.body).toEqual(JSON.parse(raw));
});

test('an answer whose first read is exactly limits.maxResponseBytes is kept; one byte more is refused', async () => {
  const raw = openaiWire.completion('y'.repeat(1_200_000));
  const exact = harness(limited(raw.length));
  exact.transport.script('a', { status: 200, body: new ScriptedBody(raw).end() });
  const kept = await collect(exact.open(chatBody('m')));
  expect(kept.ok && kept.body).toEqual(JSON.parse(raw));
  const under = harness(limited(raw.length - 1));
  under.transport.script('a', { status: 200, body: new ScriptedBody(raw).end() });
  const refused = await collect(under.open(chatBody('m')));
  expect(!refused.ok && refused.err).toMatchObject({ code: 'response_too_large' });
});

test('under a limits.maxResponseBytes below the inspect bound, a same-format answer past it is refused, never held', async () => {
  const h = harness(limited(65_536));
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.completion('y'.repeat(100_000))).end() });
  const out = await collect(h.open(chatBody('m')));
  expect(!out.ok && out.err).toMatchObject({ code: 'response_too_large', status: 502 });
  expect(!out.ok && out.err.message).toContain('(65536 bytes), which the sidecar would have to hold whole as an async result');
});

test('a streamed result\'s bound counts tool-call arguments too, and its refusal says it is for an async result', async () => {
  const limit = 65_536;
  const tool = (args: string, first: boolean) =>
    sse({ id: 'c', object: 'chat.completion.chunk', model: 'up-model', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, ...(first ? { id: 'call_1', type: 'function' } : {}), function: { ...(first ? { name: 'f' } : {}), arguments: args } }] }, finish_reason: null }] });
  const h = harness(limited(limit));
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), tool('{"a":"', true), tool('z'.repeat(limit), false), tool('"}', false), openaiWire.finish('tool_calls'), openaiWire.done).end() });
  const out = await collect(h.open(chatBody('no-resume', { stream: true })));
  expect(!out.ok && out.err).toMatchObject({ code: 'response_too_large' });
  expect(!out.ok && out.err.message).toContain(`(${limit} bytes), which the sidecar would have to hold whole as an async result`);
});

test('a streamed result resumed on another backend is tallied to the backend that finished it', async () => {
  const h = resumedOnFallback();
  const out = await collect(h.open(chatBody('r', { stream: true })));
  expect(out.ok && out.body).toMatchObject({ choices: [{ message: { content: 'Hello world' } }] });
  expect(out.tally).toMatchObject({ backend: 'b', model: 'model-b' });
});
