import { expect, test } from 'vitest';
import { mergeUsage, ResultBuilder } from './types.ts';

test('ResultBuilder folds reasoning blocks with their proof, and signed tool calls, into the result', () => {
  const b = new ResultBuilder();
  b.add({ type: 'start', id: 'msg_1', model: 'm' });
  b.add({ type: 'reasoning', choice: 0, text: 'Let me ' });
  b.add({ type: 'reasoning', choice: 0, text: 'see.' });
  b.add({ type: 'reasoning_end', choice: 0, origin: 'anthropic', signature: 'EqQB' });
  b.add({ type: 'reasoning_end', choice: 0, origin: 'anthropic', redacted: 'EmwK' });
  b.add({ type: 'tool_start', choice: 0, index: 0, id: 'call_0_0', name: 'f', signature: 'CiQB' });
  b.add({ type: 'tool_args', choice: 0, index: 0, args: '{}' });
  expect(b.build().choices[0]).toEqual({
    index: 0,
    text: '',
    toolCalls: [{ id: 'call_0_0', name: 'f', arguments: '{}', signature: 'CiQB' }],
    finishReason: null,
    reasoning: [
      { text: 'Let me see.', origin: 'anthropic', signature: 'EqQB' },
      { text: '', origin: 'anthropic', redacted: 'EmwK' },
    ],
  });
});

test('mergeUsage: later non-zero counts win; details a later report leaves out keep their earlier value', () => {
  const start = { inputTokens: 120, outputTokens: 1, cacheReadTokens: 96, cacheWriteTokens: 0 };
  expect(mergeUsage(start, { inputTokens: 0, outputTokens: 40, reasoningTokens: 12 })).toEqual({ inputTokens: 120, outputTokens: 40, cacheReadTokens: 96, cacheWriteTokens: 0, reasoningTokens: 12 });
  expect(mergeUsage(undefined, start)).toEqual(start);
});
