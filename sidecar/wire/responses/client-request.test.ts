import { describe, expect, test } from 'vitest';
import { AirouteError } from '../../errors.ts';
import { decodeResponsesRequest, responsesPrompt } from './client-request.ts';
import { encodeProof } from './shapes.ts';

function failure(fn: () => unknown): AirouteError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AirouteError) return e;
    throw e;
  }
  throw new Error('expected an AirouteError');
}

describe('decodeResponsesRequest: what routing needs', () => {
  test('a minimal body → a one-choice request that keeps the body itself; usage always reported', () => {
    const body = { model: 'gpt-4o', input: 'Hi' };
    const req = decodeResponsesRequest(body);
    expect(req).toMatchObject({ operation: 'chat', format: 'responses', model: 'gpt-4o', stream: false, includeUsage: true, choices: 1, background: false });
    expect(req.body).toBe(body);
  });

  test('background streams from its upstream whatever the client asked (its events feed the journal)', () => {
    expect(decodeResponsesRequest({ model: 'm', input: 'x', background: true }).stream).toBe(true);
    expect(decodeResponsesRequest({ model: 'm', input: 'x', stream: true }).stream).toBe(true);
  });

  test.each([
    [{ input: 'x' }, "Missing required parameter: 'model'.", 'model'],
    [{ model: 'm' }, "Missing required parameter: 'input'.", 'input'],
    [{ model: 'm', input: 42 }, "Invalid type for 'input': expected a string or an array of input items.", 'input'],
    [{ model: 'm', input: 'x', stream: 'yes' }, "Invalid type for 'stream': expected a boolean.", 'stream'],
    [{ model: 'm', input: 'x', previous_response_id: 7 }, "Invalid type for 'previous_response_id': expected a string.", 'previous_response_id'],
    [{ model: 'm', input: 'x', tools: 'get_weather' }, "Invalid type for 'tools': expected an array.", 'tools'],
    [{ model: 'm', input: 'x', reasoning: 'high' }, "Invalid type for 'reasoning': expected an object.", 'reasoning'],
    [{ model: 'm', input: 'x', background: true, store: false }, 'Background mode requires store to be true.', 'background'],
  ])('%j → 400 naming the parameter', (body, message, param) => {
    const err = failure(() => decodeResponsesRequest(body));
    expect(err.status).toBe(400);
    expect(err.message).toBe(message);
    expect(err.details.param).toBe(param);
  });
});

describe('responsesPrompt: the neutral prompt', () => {
  test('instructions, system and developer turns → system text; a string input → one user message', () => {
    const p = responsesPrompt({ model: 'm', instructions: 'Be brief.', input: [{ role: 'developer', content: 'Use metric units.' }, { role: 'user', content: 'Weather?' }] });
    expect(p.system).toBe('Be brief.\n\nUse metric units.');
    expect(p.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Weather?' }] }]);
    expect(responsesPrompt({ model: 'm', input: 'Hi' }).messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  test('a tool loop: message, reasoning, call and output items merge into alternating turns; images keep their data', () => {
    const proof = encodeProof({ origin: 'anthropic', signature: 'sig-1' })!;
    const p = responsesPrompt({
      model: 'm',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Weather in this city?' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' }] },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Need the tool.' }], encrypted_content: proof },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.', annotations: [] }] },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '18C' },
        { role: 'user', content: 'Thanks' },
      ],
    });
    expect(p.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in this city?' }, { type: 'image', mediaType: 'image/png', data: 'AAAA' }] },
      {
        role: 'assistant',
        content: [
          { type: 'reasoning', text: 'Need the tool.', origin: 'anthropic', signature: 'sig-1', id: 'rs_1' },
          { type: 'text', text: 'Checking.' },
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: '18C' }, { type: 'text', text: 'Thanks' }] },
    ]);
  });

  test('limits, tools, tool_choice, a JSON schema and reasoning map to their neutral names', () => {
    const p = responsesPrompt({
      model: 'm',
      input: 'x',
      max_output_tokens: 256,
      temperature: 0,
      top_p: 0.5,
      tools: [{ type: 'function', name: 'get_weather', description: 'Weather now', parameters: { type: 'object' }, strict: true }],
      tool_choice: { type: 'function', name: 'get_weather' },
      text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true } },
      reasoning: { effort: 'low', summary: 'auto' },
      include: ['reasoning.encrypted_content'],
      store: false,
      metadata: { user: 'u1' },
    });
    expect(responsesPrompt({ model: 'm', input: 'x', parallel_tool_calls: false, safety_identifier: 'u-42' })).toMatchObject({ parallelToolCalls: false, user: 'u-42' });
    expect(p).toMatchObject({
      maxTokens: 256,
      temperature: 0,
      topP: 0.5,
      tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } }],
      toolChoice: { type: 'tool', name: 'get_weather' },
      responseFormat: { type: 'json_schema', name: 'answer', schema: { type: 'object' } },
      reasoning: { effort: 'low', summary: 'auto' },
      untranslatable: [],
    });
  });

  test('what only OpenAI can do is listed as untranslatable, naming the field: built-in tools, item references, file inputs, unknown fields', () => {
    const p = responsesPrompt({
      model: 'm',
      input: [{ type: 'item_reference', id: 'msg_1' }, { role: 'user', content: [{ type: 'input_file', file_id: 'file-1' }] }],
      tools: [{ type: 'web_search' }],
      tool_choice: { type: 'web_search' },
      truncation: 'auto',
      parallel_tool_calls: false,
      include: ['message.output_text.logprobs'],
      top_logprobs: 3,
    });
    expect(p.untranslatable).toEqual([
      'top_logprobs',
      'input[0] (item_reference)',
      'input[1].content[0] (input_file)',
      'tools[0] (built-in tool web_search, served only by OpenAI Responses backends)',
      'tool_choice (web_search)',
      'include (message.output_text.logprobs)',
      'truncation (auto)',
    ]);
  });

  test('a previous response the sidecar stored is the start of the conversation; one it does not have is a 400 naming previous_response_id', () => {
    const prior = { id: 'resp_1', items: [{ role: 'user', content: 'My name is Ada.' }, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello Ada.' }] }] };
    const p = responsesPrompt({ model: 'm', input: 'What is my name?', previous_response_id: 'resp_1' }, { prior });
    expect(p.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', [{ type: 'text', text: 'My name is Ada.' }]],
      ['assistant', [{ type: 'text', text: 'Hello Ada.' }]],
      ['user', [{ type: 'text', text: 'What is my name?' }]],
    ]);
    const err = failure(() => responsesPrompt({ model: 'm', input: 'x', previous_response_id: 'resp_gone' }));
    expect(err.status).toBe(400);
    expect(err.details.param).toBe('previous_response_id');
    expect(err.message).toMatch(/^Previous response with id 'resp_gone' not found/);
  });

  test("an item_reference to an item of a response the sidecar made stands for that item; any other is OpenAI's alone", () => {
    const references = new Map([['msg_abc_1', { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] }]]);
    const body = { model: 'm', input: [{ role: 'user', content: 'Weather?' }, { type: 'item_reference', id: 'msg_abc_1' }, { type: 'item_reference', id: 'msg_openai' }] };
    const p = responsesPrompt(body, { references });
    expect(p.messages[1]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'Checking.' }] });
    expect(p.untranslatable).toEqual(['input[2] (item_reference)']);
  });

  test('malformed items are refused with the path of the item', () => {
    expect(failure(() => responsesPrompt({ model: 'm', input: [{ role: 'tool', content: 'x' }] })).message).toBe('input[0].role: must be one of user, assistant, system, developer');
    expect(failure(() => responsesPrompt({ model: 'm', input: ['x'] })).message).toBe('input[0]: must be an object');
  });
});
