import { describe, expect, test } from 'vitest';
import type { ChatPrompt, ChatRequest } from '../../chat/types.ts';
import { AirouteError } from '../../errors.ts';
import { geminiBody } from './upstream-request.ts';
import { thrown as failure } from '../../../test/support/errors.ts';

function request(prompt: ChatPrompt, choices = 1): ChatRequest {
  return { operation: 'chat', format: 'openai', body: {}, model: 'route', stream: true, includeUsage: false, choices, prompt: () => prompt };
}


const hi: ChatPrompt = { untranslatable: [], messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] };

describe('geminiBody', () => {
  test('contents with user/model roles, inline images, function calls and responses named after their call', () => {
    const body = geminiBody(
      request({
        system: 'Be brief.',
        untranslatable: [],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather here?' }, { type: 'image', mediaType: 'image/jpeg', data: '/9j/4AAQ' }] },
          { role: 'assistant', content: [{ type: 'text', text: '' }, { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
          // Gemini matches a function response to its call by name, not by id
          { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: '18C' }, { type: 'tool_result', toolCallId: 'call_x', name: 'get_time', content: '12:00' }] },
          { role: 'assistant', content: [{ type: 'text', text: '' }] },
        ],
      }),
      {},
    );
    expect(body).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Weather here?' }, { inlineData: { mimeType: 'image/jpeg', data: '/9j/4AAQ' } }] },
        { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { content: '18C' } } },
            { functionResponse: { name: 'get_time', response: { content: '12:00' } } },
          ],
        },
      ],
    });
  });

  test('generationConfig: limits, sampling, stop sequences, candidate count, and JSON output with a schema', () => {
    const body = geminiBody(
      request({ ...hi, maxTokens: 200, temperature: 0.1, topP: 0.95, stop: ['END'], responseFormat: { type: 'json_schema', schema: { type: 'object' }, name: 'x' } }, 2),
      {},
    );
    expect(body.generationConfig).toEqual({
      maxOutputTokens: 200,
      temperature: 0.1,
      topP: 0.95,
      stopSequences: ['END'],
      candidateCount: 2,
      responseMimeType: 'application/json',
      responseJsonSchema: { type: 'object' },
    });
    expect(geminiBody(request({ ...hi, responseFormat: { type: 'json_object' } }), {}).generationConfig).toEqual({ responseMimeType: 'application/json' });
    expect('generationConfig' in geminiBody(request(hi), {})).toBe(false);
  });

  test('tools become functionDeclarations; tool_choice becomes functionCallingConfig', () => {
    const body = geminiBody(request({ ...hi, tools: [{ name: 'get_weather', description: 'Weather now', parameters: { type: 'object' } }], toolChoice: { type: 'tool', name: 'get_weather' } }), {});
    expect(body.tools).toEqual([{ functionDeclarations: [{ name: 'get_weather', description: 'Weather now', parametersJsonSchema: { type: 'object' } }] }]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } });
    const mode = (type: 'auto' | 'none' | 'required') => geminiBody(request({ ...hi, toolChoice: { type } }), {}).toolConfig;
    expect([mode('auto'), mode('none'), mode('required')]).toEqual([
      { functionCallingConfig: { mode: 'AUTO' } },
      { functionCallingConfig: { mode: 'NONE' } },
      { functionCallingConfig: { mode: 'ANY' } },
    ]);
  });

  test('refused, never dropped: an image by URL, a prefill, and parameters Gemini cannot express', () => {
    expect(failure(() => geminiBody(request({ untranslatable: [], messages: [{ role: 'user', content: [{ type: 'image', url: 'https://example.com/a.png' }] }] }), {})).message).toBe(
      'image URLs cannot be sent to a Gemini backend; send the image inline (base64)',
    );
    expect(failure(() => geminiBody(request(hi), { prefill: 'One,' })).message).toBe('Gemini backends do not continue an assistant prefix');
    const err = failure(() => geminiBody(request({ ...hi, untranslatable: ['logit_bias', 'logprobs'] }), {}));
    expect([err.code, err.status, err.details.param]).toEqual(['unsupported_parameter', 400, 'logit_bias']);
    expect(err.message).toMatch(/Gemini format: logit_bias, logprobs$/);
    // Gemini has no end-user id and always allows parallel calls; each is named as the client spelled it
    const anthropic = { ...request({ ...hi, user: 'u-1', parallelToolCalls: false }), format: 'anthropic' as const };
    expect(failure(() => geminiBody(anthropic, {})).message).toMatch(/Gemini format: metadata.user_id, tool_choice.disable_parallel_tool_use$/);
  });

  test('top_k, seed and penalties go into generationConfig; parallel calls allowed is simply the default', () => {
    const body = geminiBody(request({ ...hi, topK: 40, seed: 7, presencePenalty: 0.5, frequencyPenalty: 0.25, parallelToolCalls: true }), {});
    expect(body.generationConfig).toEqual({ topK: 40, seed: 7, presencePenalty: 0.5, frequencyPenalty: 0.25 });
  });

  test('reasoning: a budget or an effort becomes thinkingBudget ("none" is 0); thought summaries only when the client can show them', () => {
    const config = (reasoning: ChatPrompt['reasoning']) => (geminiBody(request({ ...hi, ...(reasoning ? { reasoning } : {}) }), {}).generationConfig as { thinkingConfig?: unknown } | undefined)?.thinkingConfig;
    expect(config({ budgetTokens: 2048, summary: 'auto' })).toEqual({ thinkingBudget: 2048, includeThoughts: true });
    expect(config({ effort: 'high' })).toEqual({ thinkingBudget: 16384 });
    expect(config({ effort: 'none' })).toEqual({ thinkingBudget: 0 });
    expect(config({ summary: 'auto' })).toEqual({ includeThoughts: true });
    expect(config(undefined)).toBeUndefined();
  });

  test("Gemini 3's function-call signature goes back on its call; earlier thoughts are not sent back", () => {
    const body = geminiBody(
      request({
        ...hi,
        messages: [
          ...hi.messages,
          { role: 'assistant', content: [{ type: 'reasoning', text: 'Check the weather.', origin: 'gemini' }, { type: 'tool_call', id: 'call_0_0', name: 'get_weather', arguments: '{}', signature: 'CiQBsig==' }, { type: 'tool_call', id: 'call_0_1', name: 'get_time', arguments: '{}' }] },
        ],
      }),
      {},
    );
    expect((body.contents as unknown[])[1]).toEqual({
      role: 'model',
      parts: [{ functionCall: { name: 'get_weather', args: {} }, thoughtSignature: 'CiQBsig==' }, { functionCall: { name: 'get_time', args: {} } }],
    });
  });
});

describe('file parts (Gemini "document understanding": inlineData, fileData for URLs)', () => {
  test('inline bytes go as inlineData with their media type; a URL as fileData.fileUri, typed when the type is known', () => {
    const pdf = Buffer.from('%PDF-1.7 quarterly report').toString('base64');
    const body = geminiBody(
      request({
        untranslatable: [],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'file', field: 'input[0].content[0]', filename: 'q3.pdf', mediaType: 'application/pdf', data: pdf },
              { type: 'file', field: 'input[0].content[1]', mediaType: 'text/plain', data: 'aGVsbG8=' },
              { type: 'file', field: 'input[0].content[2]', url: 'https://files.example/paper.pdf', mediaType: 'application/pdf' },
              { type: 'file', field: 'input[0].content[3]', url: 'https://files.example/paper' },
              { type: 'text', text: 'Summarize.' },
            ],
          },
        ],
      }),
      {},
    );
    expect(body.contents).toEqual([
      {
        role: 'user',
        parts: [
          { inlineData: { mimeType: 'application/pdf', data: pdf } },
          { inlineData: { mimeType: 'text/plain', data: 'aGVsbG8=' } },
          { fileData: { mimeType: 'application/pdf', fileUri: 'https://files.example/paper.pdf' } },
          { fileData: { fileUri: 'https://files.example/paper' } },
          { text: 'Summarize.' },
        ],
      },
    ]);
  });
});
