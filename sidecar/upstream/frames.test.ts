import { expect, test } from 'vitest';
import type { Frame } from '../chat/types.ts';
import { OpenAIStreamDecoder } from '../wire/openai/upstream-answer.ts';
import type { SseEvent, StreamDecoder } from '../wire/types.ts';
import { ScriptedBody, drain, openaiWire, textOf } from '../../test/support/pipeline.ts';
import { decodeFrames, readText } from './frames.ts';

/** Hands every SSE event back as a frame; `completeAfter` events make it say the stream is complete. */
class RecordingDecoder implements StreamDecoder {
  readonly seen: SseEvent[] = [];
  complete = false;
  finished = false;
  private readonly completeAfter: number;

  constructor(completeAfter = Number.POSITIVE_INFINITY) {
    this.completeAfter = completeAfter;
  }

  decode(ev: SseEvent): Frame {
    this.seen.push(ev);
    if (this.seen.length >= this.completeAfter) this.complete = this.finished = true;
    return { events: [], raw: ev };
  }
}

const bytes = (s: string) => Buffer.from(s, 'utf8');
const noop = () => undefined;

// ---------------------------------------------------------------- readText

test('readText: the whole body, every chunk seen by the caller\'s clock', async () => {
  let chunks = 0;
  const text = await readText(new ScriptedBody('{"a":', ' 1', '}').end(), 1024, () => chunks++);
  expect(text).toBe('{"a": 1}');
  expect(chunks).toBe(3);
});

test('readText: cut at exactly `limit` bytes, and the rest is never read', async () => {
  const body = new ScriptedBody('0123456789', 'abcdef', 'never read').end();
  expect(await readText(body, 13, noop)).toBe('0123456789abc');
  expect(body.pulled).toBe(2);
  expect(body.returned).toBe(true);
});

test('readText: a chunk that reaches the limit exactly is the last one read', async () => {
  const body = new ScriptedBody('0123456789', 'abcdef', 'never read').end();
  expect(await readText(body, 16, noop)).toBe('0123456789abcdef');
  expect(body.pulled).toBe(2);
  expect(body.returned).toBe(true);
});

test('readText: a UTF-8 character split across chunks arrives whole', async () => {
  const e = bytes('é'); // 0xC3 0xA9
  const body = new ScriptedBody(bytes('caf'), e.subarray(0, 1), e.subarray(1), bytes('!')).end();
  expect(await readText(body, 1024, noop)).toBe('café!');
});

test('readText: an empty body is an empty string', async () => {
  expect(await readText(new ScriptedBody().end(), 10, noop)).toBe('');
});

// ---------------------------------------------------------------- decodeFrames

test('SSE events cut anywhere across chunk boundaries decode whole, in order, each frame after its own chunk', async () => {
  const decoder = new RecordingDecoder();
  const wire = 'event: one\ndata: {"n":1}\n\ndata: {"n":2}\n\n';
  // every cut point: mid field name, mid JSON, between the two newlines
  const chunks = [wire.slice(0, 3), wire.slice(3, 17), wire.slice(17, 23), wire.slice(23, 24), wire.slice(24)];
  expect(chunks.join('')).toBe(wire);
  let seenChunks = 0;
  const { frames, error } = await drain(decodeFrames(new ScriptedBody(...chunks).end(), decoder, () => seenChunks++));
  expect(error).toBeUndefined();
  expect(decoder.seen).toEqual([
    { event: 'one', data: '{"n":1}', id: undefined },
    { event: undefined, data: '{"n":2}', id: undefined },
  ]);
  expect(frames.map((f) => f.raw?.data)).toEqual(['{"n":1}', '{"n":2}']);
  expect(seenChunks).toBe(5);
});

test('SSE details: comments are skipped, multi-line data is joined with newlines, CRLF line ends work', async () => {
  const decoder = new RecordingDecoder();
  const body = new ScriptedBody(': keep-alive\n\n', 'data: line one\r\ndata: line two\r\n\r\n').end();
  await drain(decodeFrames(body, decoder, noop));
  expect(decoder.seen.map((e) => e.data)).toEqual(['line one\nline two']);
});

test('an event cut off by the end of the body (no blank line after it) is not dispatched', async () => {
  const decoder = new RecordingDecoder();
  await drain(decodeFrames(new ScriptedBody('data: {"n":1}\n\n', 'data: {"n":2}').end(), decoder, noop));
  expect(decoder.seen.map((e) => e.data)).toEqual(['{"n":1}']);
});

test('a UTF-8 character split across chunks reaches the decoder whole', async () => {
  const chunk = bytes(openaiWire.text('naïve'));
  const at = chunk.indexOf(0xc3) + 1; // between the two bytes of ï
  const { frames } = await drain(decodeFrames(new ScriptedBody(chunk.subarray(0, at), chunk.subarray(at)).end(), new OpenAIStreamDecoder(1, false), noop));
  expect(textOf(frames)).toBe('naïve');
});

test('a malformed event after good ones in the same chunk: the good frames first, then the error', async () => {
  const body = new ScriptedBody(openaiWire.text('one') + openaiWire.text(' two') + 'data: {"choices": [\n\n' + openaiWire.text(' never')).end();
  const { frames, error } = await drain(decodeFrames(body, new OpenAIStreamDecoder(1, false), noop));
  expect(textOf(frames)).toBe('one two');
  expect(error).toMatchObject({ code: 'upstream_malformed', details: { retriable: true } });
});

test('an in-stream error event after content: the content frames first, then the provider\'s error', async () => {
  const body = new ScriptedBody(openaiWire.text('partial'), 'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n').end();
  const { frames, error } = await drain(decodeFrames(body, new OpenAIStreamDecoder(1, false), noop));
  expect(textOf(frames)).toBe('partial');
  expect(error).toMatchObject({ code: 'upstream_error', message: 'overloaded' });
});

test('once the decoder says the stream is complete, nothing more is read from the body', async () => {
  const decoder = new RecordingDecoder(2);
  const body = new ScriptedBody('data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n'); // never ended: reading on would hang
  const { frames } = await drain(decodeFrames(body, decoder, noop));
  expect(frames).toHaveLength(2);
  expect(body.pulled).toBe(2);
  expect(body.returned).toBe(true);
});

test('a body that fails mid-stream fails the frames, after those already decoded', async () => {
  const reset = Object.assign(new Error('other side closed'), { code: 'ECONNRESET' });
  const body = new ScriptedBody('data: 1\n\n').fail(reset);
  const { frames, error } = await drain(decodeFrames(body, new RecordingDecoder(), noop));
  expect(frames).toHaveLength(1);
  expect(error).toBe(reset);
});

const MAX_SSE_BUFFER = 8 * 1024 * 1024;
/** What an upstream that broke the SSE framing fails with. */
const oversized = {
  code: 'upstream_protocol_error',
  status: 502,
  message: `upstream sent an SSE line or event longer than the limit of ${MAX_SSE_BUFFER} characters`,
  details: { retriable: true, fallback: 'retries_exhausted' },
};

test('the SSE buffer is bounded: a line longer than 8 MiB ends the stream with an error instead of being buffered', async () => {
  const decoder = new RecordingDecoder();
  const huge = `data: ${'x'.repeat(MAX_SSE_BUFFER)}`; // no line end: the parser would have to keep all of it
  const more = new ScriptedBody('data: 1\n\n', huge, 'x'.repeat(10), '\n\n');
  const { frames, error } = await drain(decodeFrames(more, decoder, noop));
  expect(frames).toHaveLength(1);
  expect(error).toMatchObject(oversized);
  expect(decoder.seen).toHaveLength(1);

  const atEnd = new ScriptedBody(huge).end();
  const ended = await drain(decodeFrames(atEnd, new RecordingDecoder(), noop));
  expect(ended.error).toMatchObject(oversized);
});

test('an event past the bound that arrives whole in one read is refused too, before the decoder sees it', async () => {
  const decoder = new RecordingDecoder();
  const body = new ScriptedBody('data: 1\n\n', `data: ${'x'.repeat(MAX_SSE_BUFFER + 1)}\n\n`, 'data: 3\n\n').end();
  const { frames, error } = await drain(decodeFrames(body, decoder, noop));
  expect(error).toMatchObject(oversized);
  expect(frames).toHaveLength(1);
  expect(decoder.seen.map((e) => e.data)).toEqual(['1']);
});

test('an event of exactly the bound that arrives whole in one read is one event', async () => {
  const decoder = new RecordingDecoder();
  const { error } = await drain(decodeFrames(new ScriptedBody(`data: ${'z'.repeat(MAX_SSE_BUFFER)}\n\n`).end(), decoder, noop));
  expect(error).toBeUndefined();
  expect(decoder.seen[0]!.data).toHaveLength(MAX_SSE_BUFFER);
});

test('the first failure is the one reported: a malformed event, then an overflowing line in the same read, fails as malformed', async () => {
  const body = new ScriptedBody(openaiWire.text('ok') + 'data: {"choices": [\n\n' + `data: ${'x'.repeat(MAX_SSE_BUFFER)}`);
  const { frames, error } = await drain(decodeFrames(body, new OpenAIStreamDecoder(1, false), noop));
  expect(textOf(frames)).toBe('ok');
  expect(error).toMatchObject({ code: 'upstream_malformed' });
});

test('unknown fields and a bad retry: value are ignored, as the SSE spec says; the events around them decode', async () => {
  const decoder = new RecordingDecoder();
  const body = new ScriptedBody('data: 1\n\n', 'foo: bar\nretry: soon\ndata: 2\n\n').end();
  const { frames, error } = await drain(decodeFrames(body, decoder, noop));
  expect(error).toBeUndefined();
  expect(frames.map((f) => f.raw?.data)).toEqual(['1', '2']);
});

test('a line just under the bound is still one event', async () => {
  const decoder = new RecordingDecoder();
  const data = 'y'.repeat(MAX_SSE_BUFFER - 16);
  const { error } = await drain(decodeFrames(new ScriptedBody(`data: ${data}`, '\n\n').end(), decoder, noop));
  expect(error).toBeUndefined();
  expect(decoder.seen[0]!.data).toHaveLength(data.length);
});

