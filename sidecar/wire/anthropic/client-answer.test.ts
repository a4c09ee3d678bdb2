import { describe, expect, test } from 'vitest';
import type { Frame, StreamEvent } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { withSignature } from '../tool-id.ts';
import { AnthropicStreamEncoder, encodeAnthropicResult } from './client-answer.ts';
import { AnthropicStreamDecoder } from './upstream-answer.ts';

/** A named-event SSE stream as [event, data] pairs; checks that each data's type repeats its event name. */
function events(sse: string): [string, Record<string, unknown>][] {
  return sse
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      const m = /^event: (.+)\ndata: (.+)$/s.exec(block);
      expect(m, block).not.toBeNull();
      const data = JSON.parse(m![2]!) as Record<string, unknown>;
      expect(data.type).toBe(m![1]);
      return [m![1]!, data];
    });
}

const named = (event: string, data: Record<string, unknown>) => ({ event, data: JSON.stringify({ type: event, ...data }) });

describe('encodeAnthropicResult', () => {
  test('text and tool calls → a message; tool arguments become the input object; usage with cache fields', () => {
    expect(
      encodeAnthropicResult(
        {
          id: 'chatcmpl-1',
          model: 'gpt-4o',
          choices: [{ index: 0, text: 'Checking.', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], finishReason: 'tool_calls' }],
          usage: { inputTokens: 120, outputTokens: 30, cacheReadTokens: 96, cacheWriteTokens: 10 },
        },
        'req1',
      ),
    ).toEqual({
      id: 'chatcmpl-1',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      // Anthropic's input_tokens is the uncached remainder: 120 prompt tokens, 96 read from the cache, 10 written to it
      usage: { input_tokens: 14, output_tokens: 30, cache_read_input_tokens: 96, cache_creation_input_tokens: 10 },
    });
  });

  test('stop reasons: a stop sequence, length, content filter and a missing reason; no usage → zeros; no id → msg_<request id>', () => {
    const result = (finishReason: 'stop' | 'length' | 'content_filter' | null, stopSequence?: string) =>
      encodeAnthropicResult({ id: '', model: 'm', choices: [{ index: 0, text: 'a', toolCalls: [], finishReason, ...(stopSequence ? { stopSequence } : {}) }] }, 'req1');
    expect(result('stop', 'END')).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    expect(result('length').stop_reason).toBe('max_tokens');
    expect(result('content_filter').stop_reason).toBe('refusal');
    expect(result(null)).toMatchObject({ id: 'msg_req1', stop_reason: 'end_turn', usage: { input_tokens: 0, output_tokens: 0 } });
  });
});

describe('AnthropicStreamEncoder from neutral events', () => {
  test('text: message_start, one text block numbered 0, deltas, then stop, message_delta with reason and usage, message_stop', () => {
    const enc = new AnthropicStreamEncoder('req1');
    const out =
      enc.encode([{ type: 'start', id: 'chatcmpl-1', model: 'gpt-4o' }, { type: 'text', choice: 0, text: 'Hel' }]) +
      enc.encode([{ type: 'text', choice: 0, text: 'lo' }, { type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 12, outputTokens: 2 } }]) +
      enc.end();
    expect(events(out)).toEqual([
      ['message_start', { type: 'message_start', message: { id: 'chatcmpl-1', type: 'message', role: 'assistant', model: 'gpt-4o', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 } } }],
      ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } }],
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 2 } }],
      ['message_stop', { type: 'message_stop' }],
    ]);
  });

  test('text then a streamed tool call: the text block closes, the tool_use block is 1, its arguments are input_json_delta', () => {
    const enc = new AnthropicStreamEncoder('req1');
    const out =
      enc.encode([
        { type: 'start', id: 'chatcmpl-1', model: 'gpt-4o', usage: { inputTokens: 30, outputTokens: 0 } },
        { type: 'text', choice: 0, text: 'Let me check.' },
        { type: 'tool_start', choice: 0, index: 0, id: 'call_1', name: 'get_weather' },
        { type: 'tool_args', choice: 0, index: 0, args: '{"city"' },
        { type: 'tool_args', choice: 0, index: 0, args: ':"Paris"}' },
        { type: 'finish', choice: 0, reason: 'tool_calls' },
      ]) + enc.end();
    expect(events(out).map(([name, d]) => [name, d.index ?? null, d.delta ?? d.content_block ?? null])).toEqual([
      ['message_start', null, null],
      ['content_block_start', 0, { type: 'text', text: '' }],
      ['content_block_delta', 0, { type: 'text_delta', text: 'Let me check.' }],
      ['content_block_stop', 0, null],
      ['content_block_start', 1, { type: 'tool_use', id: 'call_1', name: 'get_weather', input: {} }],
      ['content_block_delta', 1, { type: 'input_json_delta', partial_json: '{"city"' }],
      ['content_block_delta', 1, { type: 'input_json_delta', partial_json: ':"Paris"}' }],
      ['content_block_stop', 1, null],
      ['message_delta', null, { stop_reason: 'tool_use', stop_sequence: null }],
      ['message_stop', null, null],
    ]);
    expect(events(out)[0]?.[1]).toMatchObject({ message: { usage: { input_tokens: 30, output_tokens: 0 } } });
  });

  test('a stream that ends with nothing from upstream still forms a whole message with the fallback id', () => {
    const enc = new AnthropicStreamEncoder('req1');
    expect(events(enc.end()).map(([name]) => name)).toEqual(['message_start', 'message_delta', 'message_stop']);
    expect(events(new AnthropicStreamEncoder('req1').end())[0]?.[1]).toMatchObject({ message: { id: 'msg_req1' } });
  });

  test('error(): an `event: error` in the Anthropic error shape', () => {
    const err = new AirouteError('stream_interrupted', 502, 'the upstream stream broke and could not be resumed');
    expect(new AnthropicStreamEncoder('req1').error(err)).toBe(
      `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'the upstream stream broke and could not be resumed' } })}\n\n`,
    );
  });

  test('usage that arrives with the first events (Gemini, continuous usage) is announced in message_start, as Anthropic does', () => {
    const enc = new AnthropicStreamEncoder('req1');
    const out = enc.encode([
      { type: 'start', id: 'resp-1', model: 'gemini-2.5-flash' },
      { type: 'text', choice: 0, text: 'Hi' },
      { type: 'usage', usage: { inputTokens: 120, outputTokens: 1, cacheReadTokens: 96 } },
    ]);
    expect(events(out)[0]?.[1]).toMatchObject({ message: { usage: { input_tokens: 24, cache_read_input_tokens: 96, cache_creation_input_tokens: 0 } } });
  });

  test('usage from an OpenAI or Gemini upstream: cached tokens are taken out of input_tokens, never counted twice; message_delta repeats every count', () => {
    const enc = new AnthropicStreamEncoder('req1');
    const out =
      enc.encode([{ type: 'start', id: 'chatcmpl-1', model: 'gpt-4o' }, { type: 'text', choice: 0, text: 'Hi' }, { type: 'finish', choice: 0, reason: 'stop' }]) +
      enc.encode([{ type: 'usage', usage: { inputTokens: 120, outputTokens: 7, cacheReadTokens: 96, reasoningTokens: 3 } }]) +
      enc.end();
    const delta = events(out).find(([name]) => name === 'message_delta')?.[1];
    expect(delta?.usage).toEqual({ input_tokens: 24, cache_creation_input_tokens: 0, cache_read_input_tokens: 96, output_tokens: 7, output_tokens_details: { thinking_tokens: 3 } });
  });
});

describe('AnthropicStreamEncoder passthrough (same format) and continuation', () => {
  const start = named('message_start', {
    message: { id: 'msg_A', type: 'message', role: 'assistant', content: [], model: 'claude-haiku-4-5', stop_reason: null, stop_sequence: null, usage: { input_tokens: 24, output_tokens: 1 } },
  });
  const startFrame: Frame = { events: [{ type: 'start', id: 'msg_A', model: 'claude-haiku-4-5', usage: { inputTokens: 24, outputTokens: 1 } }], raw: start };
  const blockStart = (index: number): Frame => ({ events: [], raw: named('content_block_start', { index, content_block: { type: 'text', text: '' } }), block: { op: 'start', index, kind: 'text' } });
  const textFrame = (index: number, text: string): Frame => ({ events: [{ type: 'text', choice: 0, text }], raw: named('content_block_delta', { index, delta: { type: 'text_delta', text } }) });
  const blockStop = (index: number): Frame => ({ events: [], raw: named('content_block_stop', { index }), block: { op: 'stop', index } });
  const resumed: StreamEvent[] = [{ type: 'start', id: 'chatcmpl-B', model: 'gpt-4o' }, { type: 'text', choice: 0, text: ' three.' }, { type: 'finish', choice: 0, reason: 'stop' }];

  test("the upstream's own event name and data are forwarded as they came", () => {
    const enc = new AnthropicStreamEncoder('req1');
    expect(enc.passthrough(startFrame)).toBe(`event: message_start\ndata: ${start.data}\n\n`);
    expect(enc.passthrough({ events: [], raw: { data: '{"no":"type"}' } })).toBe('event: message\ndata: {"no":"type"}\n\n');
    expect(enc.passthrough({ events: [] })).toBeUndefined();
  });

  test('after a passed-through message_delta, end() adds only message_stop', () => {
    const enc = new AnthropicStreamEncoder('req1');
    enc.passthrough(startFrame);
    enc.passthrough({ events: [{ type: 'finish', choice: 0, reason: 'stop', stopSequence: null }], raw: named('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }) });
    expect(enc.end()).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  });

  test('continuation inside an open text block: same message, same block index, no second message_start', () => {
    const enc = new AnthropicStreamEncoder('req1');
    for (const f of [startFrame, blockStart(0), textFrame(0, 'One,'), textFrame(0, ' two,')]) enc.passthrough(f);
    // the upstream broke mid-block; the continuation comes from another attempt with its own id
    const out = enc.encode(resumed) + enc.end();
    expect(events(out)).toEqual([
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' three.' } }],
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: 24, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } }],
      ['message_stop', { type: 'message_stop' }],
    ]);
  });

  test('continuation after a closed block: the next block takes the next index', () => {
    const enc = new AnthropicStreamEncoder('req1');
    for (const f of [startFrame, blockStart(0), textFrame(0, 'One, two,'), blockStop(0)]) enc.passthrough(f);
    const out = events(enc.encode(resumed));
    expect(out.map(([name, d]) => [name, d.index])).toEqual([
      ['content_block_start', 1],
      ['content_block_delta', 1],
    ]);
  });
});

describe('reasoning for an Anthropic client', () => {
  test("thinking streams as a thinking block; Anthropic's signature closes it as signature_delta; another provider's reasoning stays unsigned", () => {
    const enc = new AnthropicStreamEncoder('req1');
    const out =
      enc.encode([
        { type: 'start', id: 'r1', model: 'm' },
        { type: 'reasoning', choice: 0, text: 'Hmm.' },
        { type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQB' },
        { type: 'reasoning', choice: 0, text: 'Other.' },
        { type: 'reasoning_end', choice: 0, origin: 'gemini', signature: 'CiQB' },
        { type: 'reasoning_end', choice: 0, origin: 'anthropic', redacted: 'EmwK' },
        { type: 'tool_start', choice: 0, index: 0, id: 'call_0_0', name: 'f', signature: 'CiQB' },
      ]) + enc.end();
    expect(events(out).map(([name, d]) => [name, d.index ?? null, d.delta ?? d.content_block ?? null])).toEqual([
      ['message_start', null, null],
      ['content_block_start', 0, { type: 'thinking', thinking: '', signature: '' }],
      ['content_block_delta', 0, { type: 'thinking_delta', thinking: 'Hmm.' }],
      ['content_block_delta', 0, { type: 'signature_delta', signature: 'EqQB' }],
      ['content_block_stop', 0, null],
      ['content_block_start', 1, { type: 'thinking', thinking: '', signature: '' }],
      ['content_block_delta', 1, { type: 'thinking_delta', thinking: 'Other.' }],
      ['content_block_stop', 1, null],
      ['content_block_start', 2, { type: 'redacted_thinking', data: 'EmwK' }],
      ['content_block_stop', 2, null],
      ['content_block_start', 3, { type: 'tool_use', id: withSignature('call_0_0', 'CiQB'), name: 'f', input: {} }],
      ['content_block_stop', 3, null],
      ['message_delta', null, { stop_reason: 'end_turn', stop_sequence: null }],
      ['message_stop', null, null],
    ]);
  });

  test('a complete answer: thinking blocks first, signed only where Anthropic signed them', () => {
    const m = encodeAnthropicResult(
      {
        id: 'r',
        model: 'm',
        choices: [
          {
            index: 0,
            text: 'Done.',
            toolCalls: [],
            finishReason: 'stop',
            reasoning: [
              { text: 'A', origin: 'anthropic', signature: 'EqQB' },
              { text: '', origin: 'anthropic', redacted: 'EmwK' },
              { text: 'B', origin: 'openai' },
            ],
          },
        ],
      },
      'req1',
    );
    expect(m.content).toEqual([
      { type: 'thinking', thinking: 'A', signature: 'EqQB' },
      { type: 'redacted_thinking', data: 'EmwK' },
      { type: 'thinking', thinking: 'B', signature: '' },
      { type: 'text', text: 'Done.' },
    ]);
  });
});

describe('encodeAnthropicResult: what is left out', () => {
  test('a result without choices is an empty message that ended its turn', () => {
    expect(encodeAnthropicResult({ id: 'r', model: 'm', choices: [] }, 'req1')).toMatchObject({ content: [], stop_reason: 'end_turn', stop_sequence: null });
  });

  test('an answer with only tool calls has no empty text block', () => {
    const m = encodeAnthropicResult({ id: 'r', model: 'm', choices: [{ index: 0, text: '', toolCalls: [{ id: 'call_1', name: 'f', arguments: '{}' }], finishReason: 'tool_calls' }] }, 'req1');
    expect(m.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'f', input: {} }]);
  });

  test("another provider's reasoning goes out unsigned and never as redacted thinking, whatever proof it carries", () => {
    const m = encodeAnthropicResult({ id: 'r', model: 'm', choices: [{ index: 0, text: 'a', toolCalls: [], finishReason: 'stop', reasoning: [{ text: 'G', origin: 'gemini', signature: 'CiQB', redacted: 'x' }] }] }, 'req1');
    expect(m.content).toEqual([
      { type: 'thinking', thinking: 'G', signature: '' },
      { type: 'text', text: 'a' },
    ]);
  });
});

describe('AnthropicStreamEncoder: blocks it keeps apart and events it drops', () => {
  test('text without a start event: message_start with the fallback id and no model; a start with an empty id keeps the fallback id', () => {
    expect(events(new AnthropicStreamEncoder('req1').encode([{ type: 'text', choice: 0, text: 'a' }]))[0]?.[1]).toMatchObject({ message: { id: 'msg_req1', model: '' } });
    expect(events(new AnthropicStreamEncoder('req1').encode([{ type: 'start', id: '', model: 'gpt-4o' }]))[0]?.[1]).toMatchObject({ message: { id: 'msg_req1', model: 'gpt-4o' } });
  });

  test('consecutive reasoning deltas share one thinking block', () => {
    const enc = new AnthropicStreamEncoder('req1');
    const out = enc.encode([{ type: 'start', id: 'r', model: 'm' }, { type: 'reasoning', choice: 0, text: 'a' }, { type: 'reasoning', choice: 0, text: 'b' }]);
    expect(events(out).map(([name, d]) => [name, d.index ?? null])).toEqual([
      ['message_start', null],
      ['content_block_start', 0],
      ['content_block_delta', 0],
      ['content_block_delta', 0],
    ]);
  });

  test('a reasoning end with no thinking block open writes nothing: no signature lands on a text block', () => {
    const enc = new AnthropicStreamEncoder('req1');
    expect(enc.encode([{ type: 'start', id: 'r', model: 'm' }])).toContain('message_start');
    expect(enc.encode([{ type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQB' }])).toBe('');
    enc.encode([{ type: 'text', choice: 0, text: 'a' }]);
    expect(enc.encode([{ type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQB' }])).toBe('');
  });

  test('tool arguments are written only into their own open tool block, never into another block', () => {
    const enc = new AnthropicStreamEncoder('req1');
    enc.encode([{ type: 'start', id: 'r', model: 'm' }]);
    expect(enc.encode([{ type: 'tool_args', choice: 0, index: 0, args: '{}' }])).toBe('');
    enc.encode([{ type: 'text', choice: 0, text: 'a' }]);
    expect(enc.encode([{ type: 'tool_args', choice: 0, index: 0, args: '{}' }])).toBe('');
  });

  test("only choice 0's finish sets the stop reason (an Anthropic message has one choice)", () => {
    const enc = new AnthropicStreamEncoder('req1');
    enc.encode([{ type: 'start', id: 'r', model: 'm' }, { type: 'finish', choice: 0, reason: 'stop' }, { type: 'finish', choice: 1, reason: 'length' }]);
    expect(events(enc.end()).find(([name]) => name === 'message_delta')?.[1]).toMatchObject({ delta: { stop_reason: 'end_turn' } });
  });
});

describe('AnthropicStreamEncoder: continuation inside a passed-through block of another kind', () => {
  const start = named('message_start', { message: { id: 'msg_A', type: 'message', role: 'assistant', content: [], model: 'claude-haiku-4-5', stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } });
  const startFrame: Frame = { events: [{ type: 'start', id: 'msg_A', model: 'claude-haiku-4-5', usage: { inputTokens: 5, outputTokens: 1 } }], raw: start };

  test('a tool_use block left open: the resumed arguments continue it, at its index', () => {
    const enc = new AnthropicStreamEncoder('req1');
    enc.passthrough(startFrame);
    enc.passthrough({
      events: [{ type: 'tool_start', choice: 0, index: 0, id: 'toolu_1', name: 'get_weather' }],
      raw: named('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } }),
      block: { op: 'start', index: 0, kind: 'tool_use' },
    });
    enc.passthrough({ events: [{ type: 'tool_args', choice: 0, index: 0, args: '{"city":' }], raw: named('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } }) });
    expect(events(enc.encode([{ type: 'tool_args', choice: 0, index: 0, args: '"Paris"}' }]))).toEqual([
      ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }],
    ]);
  });

  test('a thinking block left open: resumed text closes it and opens a text block', () => {
    const enc = new AnthropicStreamEncoder('req1');
    enc.passthrough(startFrame);
    enc.passthrough({ events: [], raw: named('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }), block: { op: 'start', index: 0, kind: 'thinking' } });
    expect(events(enc.encode([{ type: 'text', choice: 0, text: 'Hi' }])).map(([name, d]) => [name, d.index])).toEqual([
      ['content_block_stop', 0],
      ['content_block_start', 1],
      ['content_block_delta', 1],
    ]);
  });
});

describe('AnthropicStreamEncoder: proof and stop reasons that must survive', () => {
  test("another provider's reasoning end never becomes a redacted_thinking block, even carrying redacted data", () => {
    const enc = new AnthropicStreamEncoder('req1');
    const out = enc.encode([
      { type: 'start', id: 'r', model: 'm' },
      { type: 'reasoning', choice: 0, text: 'x' },
      { type: 'reasoning_end', choice: 0, origin: 'gemini', redacted: 'opaque' },
    ]);
    expect(events(out).map(([name, d]) => [name, (d.content_block as { type?: string } | undefined)?.type ?? null])).toEqual([
      ['message_start', null],
      ['content_block_start', 'thinking'],
      ['content_block_delta', null],
      ['content_block_stop', null],
    ]);
  });

  test("Anthropic's own thinking without a signature goes out with an empty one", () => {
    const m = encodeAnthropicResult({ id: 'r', model: 'm', choices: [{ index: 0, text: 'a', toolCalls: [], finishReason: 'stop', reasoning: [{ text: 'T', origin: 'anthropic' }] }] }, 'req1');
    expect(m.content).toEqual([
      { type: 'thinking', thinking: 'T', signature: '' },
      { type: 'text', text: 'a' },
    ]);
  });

  test("passed-through events whose event lines a proxy dropped: decoded, each goes out named from its data's type, so the client's SDK dispatches it; end() adds no second message_delta", () => {
    const decoder = new AnthropicStreamDecoder();
    const enc = new AnthropicStreamEncoder('req1');
    const start = JSON.stringify({ type: 'message_start', message: { id: 'msg_A', type: 'message', role: 'assistant', content: [], model: 'c', usage: { input_tokens: 5, output_tokens: 1 } } });
    const delta = JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' }, usage: { output_tokens: 9 } });
    const sent = [start, delta].map((data) => enc.passthrough(decoder.decode({ data })!));
    expect(sent).toEqual([`event: message_start\ndata: ${start}\n\n`, `event: message_delta\ndata: ${delta}\n\n`]);
    expect(events(enc.end())).toEqual([['message_stop', { type: 'message_stop' }]]);
  });
});
