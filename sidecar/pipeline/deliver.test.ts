// deliver() runs an exchange through the whole compose line to its one terminal event, onto a
// ClientSink. The sink here records what the HTTP server would have been told to send; the
// upstream is the scripted in-memory transport.
import { expect, test } from 'vitest';
import type { JsonObject } from '../chat/types.ts';
import type { AirouteError } from '../errors.ts';
import { TERMINAL_EVENTS } from '../events/types.ts';
import { cancelled } from '../sidecar.ts';
import { resumedOnFallback, ScriptedBody, answer, chatBody, dataOf, harness, openaiWire, typesOf, type Harness } from '../../test/support/pipeline.ts';
import { deliver, type ClientSink, type ResponseHeaders } from './deliver.ts';

type SinkCall =
  | { op: 'fail'; err: AirouteError; headers: ResponseHeaders }
  | { op: 'json'; body: string; headers: ResponseHeaders }
  | { op: 'open'; headers: ResponseHeaders }
  | { op: 'write'; chunk: string; first: boolean }
  | { op: 'end'; tail: string };

/** Records every call; `onWrite` lets a test play the client (go away, or hold the writer back). */
class RecordingSink implements ClientSink {
  readonly calls: SinkCall[] = [];
  closed = false;
  onWrite: ((n: number) => Promise<void> | undefined) | undefined;

  fail(err: AirouteError, headers: ResponseHeaders): void {
    this.calls.push({ op: 'fail', err, headers });
  }
  json(raw: string | Uint8Array, headers: ResponseHeaders): void {
    const body = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
    this.calls.push({ op: 'json', body, headers });
  }
  open(headers: ResponseHeaders): void {
    this.calls.push({ op: 'open', headers });
  }
  write(chunk: string, first: boolean): Promise<void> | undefined {
    if (this.closed) throw new Error('test: write after the client was gone');
    this.calls.push({ op: 'write', chunk, first });
    return this.onWrite?.(this.writes().length);
  }
  end(tail: string): void {
    this.calls.push({ op: 'end', tail });
  }
  ops(): string[] {
    return this.calls.map((c) => c.op);
  }
  writes(): string[] {
    return this.calls.flatMap((c) => (c.op === 'write' ? [c.chunk] : []));
  }
  /** Everything the client received on a stream, tail included. */
  transcript(): string {
    return this.calls.map((c) => (c.op === 'write' ? c.chunk : c.op === 'end' ? c.tail : '')).join('');
  }
}

const doc = {
  backends: [{ name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' }],
  routes: [
    { model: 'm', backends: [{ backend: 'a', model: 'up-model' }], retry: { attempts: 1 } },
    { model: 'no-resume', backends: [{ backend: 'a', model: 'up-model' }], retry: { attempts: 1 }, resume: 'none' as const },
  ],
};

async function run(h: Harness, body: JsonObject, format: 'openai' | 'anthropic' = 'openai', sink = new RecordingSink()) {
  const x = h.open(body, format);
  await deliver(h.sc, x, sink);
  return { x, sink, terminals: h.events.filter((e) => TERMINAL_EVENTS.has(e.type)).map((e) => e.type) };
}

const settle = () => new Promise<void>((r) => setImmediate(r));

test('a complete answer in the client\'s format: the upstream\'s own bytes, attempts and backend in the headers, one request.completed', async () => {
  const h = harness(doc);
  const raw = openaiWire.completion('Hello!', { system_fingerprint: 'fp_keep' });
  h.transport.script('a', answer(200, raw));
  const { sink, terminals } = await run(h, chatBody('m'));
  expect(sink.calls).toEqual([{ op: 'json', body: raw, headers: { 'x-airoute-attempts': '1', 'x-airoute-backend': 'a' } }]);
  expect(typesOf(h.events)).toEqual(['request.accepted', 'attempt.started', 'content.delta', 'request.completed']);
  expect(terminals).toEqual(['request.completed']);
  expect(dataOf(h.events, 'content.delta')).toEqual([{ choice: 0, text: 'Hello!' }]);
  expect(h.records).toMatchObject([{ outcome: 'success', status: 200, backend: 'a', stream: false, usage: { inputTokens: 3, outputTokens: 2 } }]);
});

test('a complete answer for a client of another format is encoded in that format', async () => {
  const h = harness(doc);
  h.transport.script('a', answer(200, openaiWire.completion('Hello!')));
  const { sink } = await run(h, chatBody('m', { format: 'anthropic' }), 'anthropic');
  const call = sink.calls[0]!;
  expect(call.op).toBe('json');
  expect(JSON.parse(call.op === 'json' ? call.body : '')).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] });
});

test('a stream to a client of the same format: the upstream\'s bytes pass through unchanged, first chunk marked, one request.completed', async () => {
  const h = harness(doc);
  const upstream = [
    openaiWire.role(),
    openaiWire.text('Hel').replace('"object"', '"system_fingerprint":"fp_keep","object"'),
    openaiWire.text('lo'),
    openaiWire.finish(),
    openaiWire.usage(3, 2),
    openaiWire.done,
  ];
  h.transport.script('a', { status: 200, body: new ScriptedBody(...upstream).end() });
  const { sink, terminals } = await run(h, chatBody('m', { stream: true, includeUsage: true }));
  expect(sink.calls[0]).toEqual({
    op: 'open',
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-airoute-attempts': '1', 'x-airoute-backend': 'a' },
  });
  expect(sink.transcript()).toBe(upstream.join(''));
  expect(sink.calls.filter((c) => c.op === 'write').map((c) => c.op === 'write' && c.first)).toEqual([true, false, false, false, false]);
  expect(sink.ops().at(-1)).toBe('end');
  expect(dataOf(h.events, 'content.delta').map((d) => d.text)).toEqual(['Hel', 'lo']);
  expect(terminals).toEqual(['request.completed']);
  expect(dataOf(h.events, 'request.completed')[0]).toMatchObject({ backend: 'a', finishReasons: ['stop'], usage: { inputTokens: 3, outputTokens: 2 } });
  expect(h.records).toMatchObject([{ outcome: 'success', stream: true, outputChunks: 5, ttftMs: expect.any(Number) }]);
});

test('a stream to a client of another format is translated: Anthropic events from an OpenAI upstream', async () => {
  const h = harness(doc);
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text('Hel'), openaiWire.text('lo'), openaiWire.finish(), openaiWire.usage(3, 2), openaiWire.done).end() });
  const { sink, terminals } = await run(h, chatBody('m', { stream: true, format: 'anthropic' }), 'anthropic');
  const out = sink.transcript();
  const events = [...out.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
  expect(events[0]).toBe('message_start');
  expect(events.at(-1)).toBe('message_stop');
  expect(events).toContain('content_block_delta');
  expect([...out.matchAll(/"text":"(\w+)"/g)].map((m) => m[1]).join('')).toBe('Hello');
  expect(out).not.toContain('chat.completion.chunk');
  expect(terminals).toEqual(['request.completed']);
});

test('an error before the first byte: the sink is told to fail with the upstream\'s status; no stream is opened; request.failed', async () => {
  const h = harness(doc);
  h.transport.script('a', answer(401, openaiWire.error('Incorrect API key provided', 'invalid_request_error', 'invalid_api_key')));
  const { sink, terminals } = await run(h, chatBody('m', { stream: true }));
  expect(sink.ops()).toEqual(['fail']);
  const call = sink.calls[0]!;
  expect(call.op === 'fail' && call.err).toMatchObject({ code: 'upstream_auth', status: 401 });
  expect(call.op === 'fail' && call.headers).toEqual({ 'x-airoute-attempts': '1' });
  expect(terminals).toEqual(['request.failed']);
  expect(h.records).toMatchObject([{ outcome: 'error', status: 401, code: 'upstream_auth', outputChunks: 0 }]);
  expect(h.records[0]!.ttftMs).toBeUndefined();
});

test('an error mid-stream: what was sent stays, the stream ends with an in-stream error (no [DONE]), request.failed, outcome interrupted', async () => {
  const h = harness(doc);
  const reset = Object.assign(new Error('other side closed'), { code: 'ECONNRESET' });
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.text('Half an')).fail(reset) });
  const { sink, terminals } = await run(h, chatBody('no-resume', { stream: true }));
  expect(sink.ops()).toEqual(['open', 'write', 'end']);
  const tail = sink.calls.at(-1)!;
  expect(tail.op === 'end' && tail.tail).toMatch(/^data: \{"error":\{.*"code":"stream_interrupted"/);
  expect(sink.transcript()).not.toContain('[DONE]');
  expect(terminals).toEqual(['request.failed']);
  expect(dataOf(h.events, 'request.failed')[0]).toMatchObject({ error: { code: 'stream_interrupted', status: 502, deliveredChars: 7, cause: 'upstream_reset' } });
  expect(h.records).toMatchObject([{ outcome: 'interrupted', status: 502, code: 'stream_interrupted' }]);
});

test('an error mid-stream reaches an Anthropic client as an Anthropic error event', async () => {
  const h = harness(doc);
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.text('Half')).fail(new Error('other side closed')) });
  const { sink } = await run(h, chatBody('no-resume', { stream: true, format: 'anthropic' }), 'anthropic');
  const tail = sink.calls.at(-1)!;
  expect(tail.op === 'end' && tail.tail).toMatch(/^event: error\ndata: \{"type":"error","error":\{/);
});

test('a slow client holds the writer back: nothing more is read from the upstream until the sink can take it', async () => {
  const h = harness(doc);
  const body = new ScriptedBody(openaiWire.text('one'));
  h.transport.script('a', { status: 200, body });
  const sink = new RecordingSink();
  let release: () => void = () => undefined;
  sink.onWrite = (n) => (n === 1 ? new Promise<void>((r) => (release = r)) : undefined);
  const done = run(h, chatBody('m', { stream: true }), 'openai', sink);
  await settle();
  body.push(openaiWire.text(' two'), openaiWire.finish(), openaiWire.usage(1, 2));
  await settle();
  expect(sink.writes()).toHaveLength(1);
  expect(body.pulled).toBe(1); // the upstream's next chunks wait in its own buffer, not in ours
  release();
  const { terminals } = await done;
  expect(sink.writes()).toHaveLength(3);
  expect(terminals).toEqual(['request.completed']);
});

test('the client goes away mid-stream: no more writes, no tail, the upstream released', async () => {
  const h = harness(doc);
  const body = new ScriptedBody(openaiWire.text('one'), openaiWire.text(' two'));
  h.transport.script('a', { status: 200, body });
  const sink = new RecordingSink();
  let x: ReturnType<Harness['open']> | undefined;
  sink.onWrite = (n) => {
    if (n === 1) {
      // what the HTTP server does when the socket closes: the sink is closed and the exchange aborted
      sink.closed = true;
      x!.abort(cancelled());
    }
    return undefined;
  };
  x = h.open(chatBody('m', { stream: true }));
  await deliver(h.sc, x, sink);
  expect(sink.ops()).toEqual(['open', 'write']);
  expect(body.discarded).toBe(true);
  expect(h.events.filter((e) => TERMINAL_EVENTS.has(e.type))).toHaveLength(1);
});

test('the client goes away while the writer waits on its backpressure -> request.cancelled (reason client) and a cancelled record; never request.completed', async () => {
  const h = harness(doc);
  const body = new ScriptedBody(openaiWire.text('one'), openaiWire.text(' two'), openaiWire.finish(), openaiWire.done).end();
  h.transport.script('a', { status: 200, body });
  const sink = new RecordingSink();
  let x: ReturnType<Harness['open']> | undefined;
  sink.onWrite = (n) =>
    n === 1
      ? // the socket is full; it closes while the writer waits (what the HTTP server does on a disconnect)
        new Promise<void>((resolve) =>
          setImmediate(() => {
            sink.closed = true;
            x!.abort(cancelled('client'));
            resolve();
          }),
        )
      : undefined;
  x = h.open(chatBody('m', { stream: true }));
  await deliver(h.sc, x, sink);
  expect(sink.ops()).toEqual(['open', 'write']);
  const terminals = h.events.filter((e) => TERMINAL_EVENTS.has(e.type));
  expect(terminals.map((e) => e.type)).toEqual(['request.cancelled']);
  expect(dataOf(h.events, 'request.cancelled')[0]).toMatchObject({ reason: 'client' });
  expect(h.records).toMatchObject([{ outcome: 'cancelled', status: 499, code: 'cancelled' }]);
});

test('the client goes away mid-stream (sink closed, exchange aborted) -> request.cancelled and a cancelled record; never request.completed', async () => {
  const h = harness(doc);
  const body = new ScriptedBody(openaiWire.text('one'), openaiWire.text(' two'));
  h.transport.script('a', { status: 200, body });
  const sink = new RecordingSink();
  let x: ReturnType<Harness['open']> | undefined;
  sink.onWrite = (n) => {
    if (n === 1) {
      sink.closed = true;
      x!.abort(cancelled());
    }
    return undefined;
  };
  x = h.open(chatBody('m', { stream: true }));
  await deliver(h.sc, x, sink);
  expect(h.events.filter((e) => TERMINAL_EVENTS.has(e.type)).map((e) => e.type)).toEqual(['request.cancelled']);
  expect(h.records).toMatchObject([{ outcome: 'cancelled', code: 'cancelled' }]);
});

test('a client that closes without the server aborting the exchange is still cancelled, not completed', async () => {
  const h = harness(doc);
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.text('one'), openaiWire.text(' two')) });
  const sink = new RecordingSink();
  sink.onWrite = () => {
    sink.closed = true;
    return undefined;
  };
  await deliver(h.sc, h.open(chatBody('m', { stream: true })), sink);
  expect(h.events.filter((e) => TERMINAL_EVENTS.has(e.type)).map((e) => e.type)).toEqual(['request.cancelled']);
  expect(dataOf(h.events, 'request.cancelled')[0]).toMatchObject({ reason: 'client' });
});

// ---------------------------------------------------------------- answers past the inspect bound

/** A chat.completion body of about `size` bytes, with the upstream's content-length. */
function bigCompletion(size: number): { raw: string; headers: Record<string, string> } {
  const raw = openaiWire.completion('x'.repeat(size));
  return { raw, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(raw)) } };
}
/** Bytes the sink received as raw chunks (a passed-through JSON body). */
const bytesOf = (sink: RecordingSink) => sink.calls.map((c) => (c.op === 'write' ? c.chunk : '')).join('');

class BytesSink extends RecordingSink {
  aborted = false;
  override write(chunk: string | Uint8Array, first: boolean): Promise<void> | undefined {
    return super.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'), first);
  }
  abort(): void {
    this.aborted = true;
  }
}

test('a same-format answer past 1 MiB passes through as it arrives: the upstream\'s content-length, every byte once, request.completed saying uninspected', async () => {
  const h = harness(doc);
  const { raw, headers } = bigCompletion(1_200_000);
  const half = Math.floor(raw.length / 2);
  h.transport.script('a', { status: 200, headers, body: new ScriptedBody(raw.slice(0, half), raw.slice(half)).end() });
  const { sink, terminals } = await run(h, chatBody('m'), 'openai', new BytesSink());
  expect(sink.ops()[0]).toBe('open');
  expect(sink.calls[0]).toMatchObject({ op: 'open', headers: { 'content-type': 'application/json', 'content-length': String(raw.length), 'x-airoute-backend': 'a' } });
  expect(bytesOf(sink)).toBe(raw);
  expect(sink.ops().at(-1)).toBe('end');
  expect(terminals).toEqual(['request.completed']);
  expect(dataOf(h.events, 'request.completed')[0]).toMatchObject({ uninspected: { bytes: raw.length, limit: 1024 * 1024 } });
  expect(h.records).toMatchObject([{ outcome: 'success', status: 200, stream: false }]);
});

test('the upstream fails in the middle of a passed-through body: the client\'s response is cut (no false end), request.failed', async () => {
  const h = harness(doc);
  const { raw, headers } = bigCompletion(1_200_000);
  const body = new ScriptedBody(raw.slice(0, 1_100_000));
  h.transport.script('a', { status: 200, headers, body });
  const sink = new BytesSink();
  const done = run(h, chatBody('m'), 'openai', sink);
  await settle();
  body.fail(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
  const { terminals } = await done;
  expect(sink.aborted).toBe(true);
  expect(sink.ops()).not.toContain('end');
  expect(terminals).toEqual(['request.failed']);
  expect(h.records).toMatchObject([{ outcome: 'error', code: 'upstream_reset' }]);
});

test('the client leaves during a passed-through body: nothing more is read or written; request.cancelled', async () => {
  const h = harness(doc);
  const { raw, headers } = bigCompletion(1_200_000);
  const body = new ScriptedBody(raw.slice(0, 1_100_000), raw.slice(1_100_000, 1_150_000));
  h.transport.script('a', { status: 200, headers, body });
  const sink = new BytesSink();
  sink.onWrite = () => {
    sink.closed = true;
    return undefined;
  };
  const { terminals } = await run(h, chatBody('m'), 'openai', sink);
  expect(sink.writes()).toHaveLength(1);
  expect(sink.ops()).not.toContain('end');
  expect(terminals).toEqual(['request.cancelled']);
});

test('a same-format body read past the bound goes out chunk by chunk as the upstream sends it, with the client\'s backpressure, ending with an empty tail', async () => {
  const h = harness(doc);
  const raw = openaiWire.completion('x'.repeat(1_200_000));
  const body = new ScriptedBody(raw.slice(0, 1_100_000));
  h.transport.script('a', { status: 200, body });
  const sink = new BytesSink();
  let release: () => void = () => undefined;
  sink.onWrite = (n) => (n === 1 ? new Promise<void>((r) => (release = r)) : undefined);
  const done = run(h, chatBody('m'), 'openai', sink);
  await settle();
  body.push(raw.slice(1_100_000, 1_150_000), raw.slice(1_150_000)).end();
  await settle();
  expect(sink.writes()).toHaveLength(1);
  expect(body.pulled).toBe(1); // held back by the client, not read into the sidecar
  release();
  const { terminals } = await done;
  expect(sink.writes().map((w) => w.length)).toEqual([1_100_000, 50_000, raw.length - 1_150_000]);
  expect(bytesOf(sink)).toBe(raw);
  expect(sink.calls.at(-1)).toEqual({ op: 'end', tail: '' });
  expect(terminals).toEqual(['request.completed']);
});

test('a passed-through body without a content-length goes out without one', async () => {
  const h = harness(doc);
  const raw = openaiWire.completion('x'.repeat(1_200_000));
  h.transport.script('a', { status: 200, headers: { 'content-type': 'application/json' }, body: new ScriptedBody(raw).end() });
  const { sink } = await run(h, chatBody('m'), 'openai', new BytesSink());
  const open = sink.calls[0]!;
  expect(open.op === 'open' && open.headers).toEqual({ 'content-type': 'application/json', 'x-airoute-attempts': '1', 'x-airoute-backend': 'a' });
});

test('the client leaves after a later chunk of a passed-through body: nothing more is read or written, request.cancelled (reason client)', async () => {
  const h = harness(doc);
  const raw = openaiWire.completion('x'.repeat(1_200_000));
  const body = new ScriptedBody(raw.slice(0, 1_100_000), raw.slice(1_100_000, 1_150_000), raw.slice(1_150_000)).end();
  h.transport.script('a', { status: 200, body });
  const sink = new BytesSink();
  sink.onWrite = (n) => {
    if (n === 2) sink.closed = true;
    return undefined;
  };
  const { terminals } = await run(h, chatBody('m'), 'openai', sink);
  expect(sink.writes()).toHaveLength(2);
  expect(body.pulled).toBe(2);
  expect(sink.ops()).not.toContain('end');
  expect(terminals).toEqual(['request.cancelled']);
  expect(dataOf(h.events, 'request.cancelled')[0]).toMatchObject({ reason: 'client' });
  expect(sink.aborted).toBe(false);
});

test('the upstream fails in a passed-through body after the client left: the gone client is not cut again', async () => {
  const h = harness(doc);
  const raw = openaiWire.completion('x'.repeat(1_200_000));
  const body = new ScriptedBody(raw.slice(0, 1_100_000));
  h.transport.script('a', { status: 200, body });
  const sink = new BytesSink();
  const x = h.open(chatBody('m'));
  const done = deliver(h.sc, x, sink);
  await settle();
  sink.closed = true;
  x.abort(cancelled('client'));
  await done;
  expect(sink.aborted).toBe(false);
  expect(h.events.filter((e) => TERMINAL_EVENTS.has(e.type)).map((e) => e.type)).toEqual(['request.cancelled']);
});

test('a sink that cannot cut a response (no abort) still ends the request as failed when a passed-through body breaks', async () => {
  const h = harness(doc);
  const raw = openaiWire.completion('x'.repeat(1_200_000));
  const body = new ScriptedBody(raw.slice(0, 1_100_000));
  h.transport.script('a', { status: 200, body });
  const sink = new RecordingSink();
  sink.write = (chunk: string | Uint8Array, first: boolean) => RecordingSink.prototype.write.call(sink, typeof chunk === 'string' ? chunk : '<bytes>', first);
  const done = run(h, chatBody('m'), 'openai', sink);
  await settle();
  body.fail(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
  const { terminals } = await done;
  expect(terminals).toEqual(['request.failed']);
  expect(h.records).toMatchObject([{ outcome: 'error', code: 'upstream_reset' }]);
});

test('a complete answer read while the client already left is never sent: request.cancelled (reason client)', async () => {
  const h = harness(doc);
  h.transport.script('a', answer(200, openaiWire.completion('Hello!')));
  const sink = new RecordingSink();
  sink.closed = true;
  const { terminals } = await run(h, chatBody('m'), 'openai', sink);
  expect(sink.calls).toEqual([]);
  expect(terminals).toEqual(['request.cancelled']);
  expect(dataOf(h.events, 'request.cancelled')[0]).toMatchObject({ reason: 'client' });
});

test('the client leaves while the sidecar waits on the upstream mid-stream: no tail is written to the gone client', async () => {
  const h = harness(doc);
  const body = new ScriptedBody(openaiWire.role(), openaiWire.text('one'));
  h.transport.script('a', { status: 200, body });
  const sink = new RecordingSink();
  const x = h.open(chatBody('m', { stream: true }));
  const done = deliver(h.sc, x, sink);
  await settle();
  sink.closed = true;
  x.abort(cancelled('client'));
  await done;
  expect(sink.ops()).toEqual(['open', 'write', 'write']);
  expect(h.events.filter((e) => TERMINAL_EVENTS.has(e.type)).map((e) => e.type)).toEqual(['request.cancelled']);
});

test('a stream resumed on another backend: request.completed and the record name the backend that finished it', async () => {
  const h = resumedOnFallback();
  const { terminals } = await run(h, chatBody('r', { stream: true }));
  expect(terminals).toEqual(['request.completed']);
  expect(dataOf(h.events, 'request.completed')[0]).toMatchObject({ backend: 'b' });
  expect(h.records).toMatchObject([{ outcome: 'success', backend: 'b' }]);
});
