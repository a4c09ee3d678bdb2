import { describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import type { SseEvent } from '../types.ts';
import { AnthropicStreamDecoder, parseAnthropicResult } from './upstream-answer.ts';
import { thrown } from '../../../test/support/errors.ts';

// Named SSE events with a `type` inside the data, as the Messages streaming docs show them.
const ev = (event: string, data: Record<string, unknown>): SseEvent => ({ event, data: JSON.stringify({ type: event, ...data }) });
const messageStart = ev('message_start', {
  message: {
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
    type: 'message',
    role: 'assistant',
    content: [],
    model: 'claude-haiku-4-5-20251001',
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 24, cache_creation_input_tokens: 0, cache_read_input_tokens: 96, output_tokens: 1 },
  },
});


describe('AnthropicStreamDecoder', () => {
  test("an event whose event: line a proxy dropped keeps its raw bytes and gets its name from the data's type; a type that could break the SSE line is not used", () => {
    const ping = new AnthropicStreamDecoder().decode({ data: '{"type":"ping"}' })!;
    expect(ping.raw).toEqual({ event: 'ping', data: '{"type":"ping"}' });
    const named = { event: 'ping', data: '{"type":"ping"}' };
    expect(new AnthropicStreamDecoder().decode(named)!.raw).toBe(named);
    const hostile = { data: JSON.stringify({ type: 'ping\nevent: message_stop' }) };
    expect(new AnthropicStreamDecoder().decode(hostile)!.raw).toBe(hostile);
  });

  test('a text answer, event by event: start with input usage, block bookkeeping, text deltas, stop reason and output usage', () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode(messageStart)).toEqual({
      events: [{ type: 'start', id: 'msg_01XFDUDYJgAACzvnptvVoYEL', model: 'claude-haiku-4-5-20251001', usage: { inputTokens: 120, outputTokens: 1, cacheReadTokens: 96, cacheWriteTokens: 0 } }],
      raw: messageStart,
    });
    expect(d.decode(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }))).toMatchObject({ events: [], block: { op: 'start', index: 0, kind: 'text' } });
    const ping = ev('ping', {});
    expect(d.decode(ping)).toEqual({ events: [], raw: ping }); // forwarded to a same-format client, meaning nothing here
    expect(d.decode(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }))?.events).toEqual([{ type: 'text', choice: 0, text: 'Hello' }]);
    expect(d.decode(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: '!' } }))?.events).toEqual([{ type: 'text', choice: 0, text: '!' }]);
    expect(d.decode(ev('content_block_stop', { index: 0 }))).toMatchObject({ events: [], block: { op: 'stop', index: 0 } });
    expect([d.finished, d.complete]).toEqual([false, false]);
    expect(d.decode(ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 15 } }))?.events).toEqual([
      { type: 'finish', choice: 0, reason: 'stop', stopSequence: null },
      // message_delta repeats only the output count here: the input and cache counts of message_start stand
      { type: 'usage', usage: { inputTokens: 120, outputTokens: 15, cacheReadTokens: 96, cacheWriteTokens: 0 } },
    ]);
    expect([d.finished, d.complete]).toEqual([true, true]);
    expect(d.decode(ev('message_stop', {}))).toBeNull();
  });

  test('tool use: each tool_use block gets the next tool index; input_json_delta pieces go to the tool of their block', () => {
    const d = new AnthropicStreamDecoder();
    d.decode(messageStart);
    d.decode(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    d.decode(ev('content_block_stop', { index: 0 }));
    const open = d.decode(ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: {} } }));
    expect(open).toMatchObject({ events: [{ type: 'tool_start', choice: 0, index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather' }], block: { op: 'start', index: 1, kind: 'tool_use' } });
    expect(d.decode(ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } }))?.events).toEqual([]);
    expect(d.decode(ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '{"location": "San Fra' } }))?.events).toEqual([
      { type: 'tool_args', choice: 0, index: 0, args: '{"location": "San Fra' },
    ]);
    expect(d.decode(ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: 'ncisco, CA"}' } }))?.events).toEqual([{ type: 'tool_args', choice: 0, index: 0, args: 'ncisco, CA"}' }]);
    d.decode(ev('content_block_stop', { index: 1 }));
    expect(d.decode(ev('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} } }))?.events).toEqual([
      { type: 'tool_start', choice: 0, index: 1, id: 'toolu_2', name: 'get_time' },
    ]);
    expect(d.decode(ev('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 89 } }))?.events[0]).toEqual({ type: 'finish', choice: 0, reason: 'tool_calls', stopSequence: null });
  });

  test('thinking: its text as reasoning events; the signature, spelled by signature_delta, travels with the end of the block', () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode(ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }))).toMatchObject({ events: [], block: { op: 'start', index: 0, kind: 'thinking' } });
    expect(d.decode(ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me think' } }))?.events).toEqual([{ type: 'reasoning', choice: 0, text: 'Let me think' }]);
    expect(d.decode(ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAh' } }))?.events).toEqual([]);
    expect(d.decode(ev('content_block_stop', { index: 0 }))).toMatchObject({ events: [{ type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQBCgIYAh' }], block: { op: 'stop', index: 0 } });
    // a redacted block is all proof and no text
    expect(d.decode(ev('content_block_start', { index: 1, content_block: { type: 'redacted_thinking', data: 'EmwKAhgB' } }))?.events).toEqual([
      { type: 'reasoning_end', choice: 0, origin: 'anthropic', redacted: 'EmwKAhgB' },
    ]);
    expect(d.decode(ev('content_block_stop', { index: 1 }))?.events).toEqual([]);
  });

  test("stop reasons: a stop sequence is kept; max_tokens and the context window are 'length'; refusal is content_filter", () => {
    const finish = (stop_reason: string, stop_sequence: string | null = null) => new AnthropicStreamDecoder().decode(ev('message_delta', { delta: { stop_reason, stop_sequence }, usage: { output_tokens: 1 } }))?.events[0];
    expect(finish('stop_sequence', '\n\nHuman:')).toEqual({ type: 'finish', choice: 0, reason: 'stop', stopSequence: '\n\nHuman:' });
    expect(['max_tokens', 'model_context_window_exceeded', 'refusal', 'pause_turn', 'something_new'].map((r) => (finish(r) as { reason: string }).reason)).toEqual([
      'length',
      'length',
      'content_filter',
      'stop',
      'stop',
    ]);
  });

  test('the event name comes from the SSE event line, or from the data when a proxy dropped the line', () => {
    const d = new AnthropicStreamDecoder();
    d.decode({ data: JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) });
    expect(d.decode({ data: JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } }) })?.events).toEqual([{ type: 'text', choice: 0, text: 'x' }]);
  });

  test('an error event mid-stream (overloaded) throws a retriable upstream_overloaded 529', () => {
    const d = new AnthropicStreamDecoder();
    d.decode(messageStart);
    const err = thrown(() => d.decode(ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } })));
    expect([err.code, err.status, err.retriable, err.details.providerType]).toEqual(['upstream_overloaded', 529, true, 'overloaded_error']);
  });

  test('malformed input: data that is not a JSON object, or a tool delta for a block that never started', () => {
    const d = new AnthropicStreamDecoder();
    expect(thrown(() => d.decode({ event: 'content_block_delta', data: '{"type":"content_block_delta","ind' })).message).toBe('upstream sent a malformed stream event');
    expect(thrown(() => d.decode({ event: 'ping', data: '"ping"' })).code).toBe('upstream_malformed');
    expect(thrown(() => d.decode(ev('content_block_delta', { index: 3, delta: { type: 'input_json_delta', partial_json: '{}' } }))).message).toBe(
      'upstream sent a malformed tool delta without its block',
    );
  });
});

describe('parseAnthropicResult', () => {
  test('a message with thinking, text and tool use → one neutral choice; usage with cache reads and writes', () => {
    const body = {
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'hmm', signature: 'sig' },
        { type: 'text', text: 'Checking ' },
        { type: 'text', text: 'now.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 14, cache_creation_input_tokens: 10, cache_read_input_tokens: 96, output_tokens: 30 },
    };
    expect(parseAnthropicResult(JSON.stringify(body))).toEqual({
      id: 'msg_01',
      model: 'claude-sonnet-4-5',
      choices: [
        {
          index: 0,
          text: 'Checking now.',
          toolCalls: [{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
          finishReason: 'tool_calls',
          stopSequence: null,
          reasoning: [{ text: 'hmm', origin: 'anthropic', signature: 'sig' }],
        },
      ],
      usage: { inputTokens: 120, outputTokens: 30, cacheReadTokens: 96, cacheWriteTokens: 10 },
    });
  });

  test('a stop sequence is kept; a missing stop reason is null', () => {
    const r = parseAnthropicResult(JSON.stringify({ id: 'm', model: 'c', content: [{ type: 'text', text: 'a' }], stop_reason: 'stop_sequence', stop_sequence: 'END' }));
    expect(r.choices[0]).toMatchObject({ finishReason: 'stop', stopSequence: 'END' });
    expect(parseAnthropicResult(JSON.stringify({ id: 'm', model: 'c', content: [] })).choices[0]?.finishReason).toBeNull();
  });

  test('an unparsable body or one without content is upstream_malformed', () => {
    expect(thrown(() => parseAnthropicResult('upstream connect error')).code).toBe('upstream_malformed');
    expect(thrown(() => parseAnthropicResult('{"type":"message"}')).message).toBe('upstream sent a malformed response body');
  });
});

describe('Anthropic usage in the one usage model', () => {
  test('input counts every prompt token: uncached input_tokens plus cache reads and writes; thinking tokens are a part of the output', () => {
    const d = new AnthropicStreamDecoder();
    const start = ev('message_start', {
      message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'claude-sonnet-4-5', stop_reason: null, stop_sequence: null, usage: { input_tokens: 14, cache_creation_input_tokens: 10, cache_read_input_tokens: 96, output_tokens: 1 } },
    });
    expect(d.decode(start)?.events[0]).toMatchObject({ usage: { inputTokens: 120, cacheReadTokens: 96, cacheWriteTokens: 10, outputTokens: 1 } });
    // Newer API versions repeat every count, cumulatively, in message_delta.
    const delta = ev('message_delta', {
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 14, cache_creation_input_tokens: 10, cache_read_input_tokens: 96, output_tokens: 40, output_tokens_details: { thinking_tokens: 25 } },
    });
    expect(d.decode(delta)?.events[1]).toEqual({ type: 'usage', usage: { inputTokens: 120, outputTokens: 40, cacheReadTokens: 96, cacheWriteTokens: 10, reasoningTokens: 25 } });
  });
});

describe('AnthropicStreamDecoder: what carries nothing produces nothing', () => {
  test('a text or thinking block that opens with content gives it at once; one opened without its field gives nothing', () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode(ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: 'First, ', signature: '' } }))?.events).toEqual([{ type: 'reasoning', choice: 0, text: 'First, ' }]);
    d.decode(ev('content_block_stop', { index: 0 }));
    expect(d.decode(ev('content_block_start', { index: 1, content_block: { type: 'text', text: 'Hi' } }))?.events).toEqual([{ type: 'text', choice: 0, text: 'Hi' }]);
    expect(d.decode(ev('content_block_start', { index: 2, content_block: { type: 'text' } }))?.events).toEqual([]);
    expect(d.decode(ev('content_block_start', { index: 3, content_block: { type: 'thinking' } }))?.events).toEqual([]);
    // a block type this code does not know (a citation, a future kind) carrying text is not text
    expect(d.decode(ev('content_block_start', { index: 4, content_block: { type: 'document_summary', text: 'x' } }))).toMatchObject({ events: [], block: { op: 'start', index: 4, kind: 'document_summary' } });
  });

  test('empty or field-less text, thinking and input_json deltas give no events', () => {
    const d = new AnthropicStreamDecoder();
    d.decode(ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } }));
    for (const delta of [
      { type: 'text_delta', text: '' },
      { type: 'text_delta' },
      { type: 'thinking_delta', thinking: '' },
      { type: 'thinking_delta' },
      { type: 'input_json_delta' },
    ])
      expect(d.decode(ev('content_block_delta', { index: 0, delta }))?.events).toEqual([]);
  });

  test('a delta of a type this code does not know is ignored, whatever fields it carries', () => {
    const d = new AnthropicStreamDecoder();
    d.decode(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    const future = { type: 'future_delta', text: 'x', partial_json: '{}', thinking: 'y', signature: 'z' };
    expect(d.decode(ev('content_block_delta', { index: 0, delta: future }))?.events).toEqual([]);
    expect(d.decode(ev('content_block_stop', { index: 0 }))?.events).toEqual([]);
  });

  test('a signature_delta outside a thinking block is ignored; one without a signature adds nothing to the block\'s signature', () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode(ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'stray' } }))?.events).toEqual([]);
    d.decode(ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }));
    d.decode(ev('content_block_delta', { index: 0, delta: { type: 'signature_delta' } }));
    d.decode(ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQB' } }));
    expect(d.decode(ev('content_block_stop', { index: 0 }))?.events).toEqual([{ type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQB' }]);
  });

  test('a server tool (server_tool_use, e.g. web search) opens a tool call like tool_use does', () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode(ev('content_block_start', { index: 0, content_block: { type: 'server_tool_use', id: 'srvtoolu_01', name: 'web_search', input: {} } }))?.events).toEqual([
      { type: 'tool_start', choice: 0, index: 0, id: 'srvtoolu_01', name: 'web_search' },
    ]);
    expect(d.decode(ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"query":"x"}' } }))?.events).toEqual([{ type: 'tool_args', choice: 0, index: 0, args: '{"query":"x"}' }]);
  });

  test('a message_delta without a stop reason reports its usage and no finish; without stop_sequence the stop sequence is null', () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode(ev('message_delta', { delta: { stop_reason: null }, usage: { output_tokens: 3 } }))?.events).toStrictEqual([{ type: 'usage', usage: { inputTokens: 0, outputTokens: 3 } }]);
    expect(new AnthropicStreamDecoder().decode(ev('message_delta', { delta: { stop_reason: 'end_turn' } }))?.events).toStrictEqual([{ type: 'finish', choice: 0, reason: 'stop', stopSequence: null }]);
  });

  test('message_stop alone completes the stream', () => {
    const d = new AnthropicStreamDecoder();
    expect(d.decode(ev('message_stop', {}))).toBeNull();
    expect([d.finished, d.complete]).toEqual([true, true]);
  });

  test("an error event keeps Anthropic's own type and format so an Anthropic client sees it unchanged", () => {
    const err = thrown(() => new AnthropicStreamDecoder().decode(ev('error', { error: { type: 'api_error', message: 'Internal server error' } })));
    expect([err.code, err.status, err.message, err.details.providerFormat, err.details.providerType]).toEqual(['upstream_error', 502, 'Internal server error', 'anthropic', 'api_error']);
  });

  test('stream data that is JSON but not an object names what was malformed', () => {
    expect(thrown(() => new AnthropicStreamDecoder().decode({ event: 'ping', data: '"ping"' })).message).toBe('upstream sent a malformed stream event');
  });
});

describe('Anthropic usage: only finite numbers count', () => {
  test('usage without cache counts has no cache fields; null counts are absent counts', () => {
    const d = new AnthropicStreamDecoder();
    const start = ev('message_start', { message: { id: 'm', model: 'c', usage: { input_tokens: 10, cache_creation_input_tokens: null, cache_read_input_tokens: null, output_tokens: 1 } } });
    expect(d.decode(start)?.events).toStrictEqual([{ type: 'start', id: 'm', model: 'c', usage: { inputTokens: 10, outputTokens: 1 } }]);
  });

  test('a count too large for a double (1e999 parses to Infinity) is ignored, never reported', () => {
    const d = new AnthropicStreamDecoder();
    const start = { event: 'message_start', data: '{"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1e999,"output_tokens":2}}}' };
    expect(d.decode(start)?.events).toStrictEqual([{ type: 'start', id: 'm', model: 'c', usage: { inputTokens: 0, outputTokens: 2 } }]);
  });
});

describe('parseAnthropicResult: the blocks it keeps and the ones it skips', () => {
  test('redacted thinking is kept as proof without text; a thinking block with an empty or non-string signature carries none; unknown blocks are skipped', () => {
    const r = parseAnthropicResult(
      JSON.stringify({
        id: 'msg_1',
        model: 'claude-sonnet-4-5',
        content: [
          null,
          { type: 'thinking', thinking: 'a', signature: '' },
          { type: 'thinking', thinking: 'b', signature: 12345 },
          { type: 'redacted_thinking', data: 'EmwKAhgB' },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [] },
          { type: 'text', text: 'done' },
        ],
        stop_reason: 'a_new_reason',
      }),
    );
    expect(r).toStrictEqual({
      id: 'msg_1',
      model: 'claude-sonnet-4-5',
      choices: [
        {
          index: 0,
          text: 'done',
          toolCalls: [],
          finishReason: 'stop',
          stopSequence: null,
          reasoning: [
            { text: 'a', origin: 'anthropic' },
            { text: 'b', origin: 'anthropic' },
            { text: '', origin: 'anthropic', redacted: 'EmwKAhgB' },
          ],
        },
      ],
    });
  });

  test('an unparsable body names the response body', () => {
    expect(thrown(() => parseAnthropicResult('<html>')).message).toBe('upstream sent a malformed response body');
  });
});

test('a delta of an unknown type carrying a signature inside a thinking block does not change its signature', () => {
  const d = new AnthropicStreamDecoder();
  d.decode(ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }));
  d.decode(ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQB' } }));
  d.decode(ev('content_block_delta', { index: 0, delta: { type: 'future_delta', signature: 'zzz' } }));
  expect(d.decode(ev('content_block_stop', { index: 0 }))?.events).toEqual([{ type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQB' }]);
});
