// Mock upstreams for the conformance suite: OpenAI Chat Completions, Anthropic Messages and Gemini
// 3 streamGenerateContent, each replaying its provider's documented stream shapes for one
// feature at a time (docs/conformance.md lists the pages each shape comes from), and each refusing
// what its provider refuses: OpenAI's reasoning models refuse max_tokens, Anthropic refuses a
// thinking request whose tool turn comes back without its signed thinking, Gemini 3 refuses a
// function call that comes back without its thought signature. The feature is named in the
// prompt (`conformance:<feature, spaces as _>`), which every translation carries; a request with tool results
// in it is the second turn.
import { data, named, ReplayProvider, type Recorded, type Replay } from '../support/replay-provider.ts';

export const FEATURES = ['text', 'tools', 'parallel tools', 'thinking', 'cache usage', 'error mid-stream'] as const;
export type Feature = (typeof FEATURES)[number];

export const ANSWER = 'The capital of France is Paris.';
export const AFTER_TOOLS = 'It is 18C and 14:05 in Paris.';
export const PARTIAL = 'The capital of';
export const THOUGHT = 'The user wants the weather; I should call the tool.';
export const USAGE = { input: 120, output: 7, cached: 96, reasoning: 5 };
export const SIGNATURE = { anthropic: 'EqQBCkYIBxgCKkBsig-anthropic', gemini: 'CiQBjz1rX+sig-gemini==' };
export const CALLS = [
  { id: 'weather', name: 'get_weather', args: { city: 'Paris' } },
  { id: 'time', name: 'get_time', args: { city: 'Paris' } },
] as const;

export function featureOf(r: Recorded): Feature {
  const m = /conformance:([a-z_-]+)/.exec(JSON.stringify(r.body));
  return (m?.[1]?.replace(/_/g, ' ') ?? 'text') as Feature;
}

/** The second turn of a tool flow: the request carries tool results, in the upstream's own shape. */
export function isSecondTurn(r: Recorded): boolean {
  return /"role":"tool"|"tool_result"|"functionResponse"/.test(JSON.stringify(r.body));
}

function calls(feature: Feature): readonly (typeof CALLS)[number][] {
  if (feature === 'tools' || feature === 'thinking') return CALLS.slice(0, 1);
  if (feature === 'parallel tools') return CALLS;
  return [];
}

/** Words with their leading space, as models stream them. */
const words = (text: string) => text.match(/\s*\S+/g) ?? [];
const pieces = (json: string) => json.match(/.{1,7}/g) ?? [];

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions: platform.openai.com/docs/api-reference/chat-streaming (chunk object),
// .../chat/object (usage with prompt_tokens_details and completion_tokens_details), and
// platform.openai.com/docs/guides/function-calling#streaming (tool call deltas by index).
// ---------------------------------------------------------------------------------------------
function openaiError(status: number, message: string, param: string | null, code: string | null): Replay {
  return { status, json: { error: { message, type: 'invalid_request_error', param, code } }, headers: { 'x-request-id': 'req_conf_openai' } };
}

export function openaiScript(r: Recorded): Replay {
  const feature = featureOf(r);
  const body = r.body;
  // OpenAI's reasoning models (gpt-5, o-series) refuse the old name of the cap.
  if (body.max_tokens !== undefined && /^(gpt-5|o\d)/.test(String(body.model)))
    return openaiError(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", 'max_tokens', 'unsupported_parameter');
  const base = { id: 'chatcmpl-conf1', object: 'chat.completion.chunk', created: 1765000000, model: 'gpt-5-mini-2025-08-07', service_tier: 'default', system_fingerprint: null };
  const chunk = (delta: unknown, finish: string | null = null) => data({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], obfuscation: 'aBc' });
  const second = isSecondTurn(r);
  const frames = [chunk({ role: 'assistant', content: '', refusal: null })];
  const todo = second ? [] : calls(feature);
  if (feature === 'error mid-stream') {
    for (const w of words(PARTIAL)) frames.push(chunk({ content: w }));
    // The openai SDKs raise a chunk with an `error` member (openai-node src/core/streaming.ts).
    frames.push(data({ error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } }));
    return { frames, headers: { 'x-request-id': 'req_conf_openai' } };
  }
  if (todo.length === 0) for (const w of words(second ? AFTER_TOOLS : ANSWER)) frames.push(chunk({ content: w }));
  todo.forEach((c, index) => {
    frames.push(chunk({ tool_calls: [{ index, id: `call_${c.id}`, type: 'function', function: { name: c.name, arguments: '' } }] }));
    for (const p of pieces(JSON.stringify(c.args))) frames.push(chunk({ tool_calls: [{ index, function: { arguments: p } }] }));
  });
  frames.push(chunk({}, todo.length ? 'tool_calls' : 'stop'));
  const so = body.stream_options as { include_usage?: boolean } | undefined;
  if (so?.include_usage)
    frames.push(
      data({
        ...base,
        choices: [],
        usage: {
          prompt_tokens: USAGE.input,
          completion_tokens: USAGE.output,
          total_tokens: USAGE.input + USAGE.output,
          prompt_tokens_details: { cached_tokens: feature === 'cache usage' ? USAGE.cached : 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: feature === 'thinking' ? USAGE.reasoning : 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        },
        obfuscation: 'x',
      }),
    );
  frames.push(data('[DONE]'));
  return { frames, headers: { 'x-request-id': 'req_conf_openai' } };
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages: docs.anthropic.com/en/docs/build-with-claude/streaming (every event type,
// thinking with signature_delta, tool_use with input_json_delta, the error event),
// .../extended-thinking#preserving-thinking-blocks (the 400 when the tool turn comes back without
// its thinking), .../prompt-caching#tracking-cache-performance (usage fields).
// ---------------------------------------------------------------------------------------------
function anthropicError(status: number, type: string, message: string): Replay {
  return { status, json: { type: 'error', error: { type, message }, request_id: 'req_conf_anthropic' }, headers: { 'request-id': 'req_conf_anthropic' } };
}

export function anthropicScript(r: Recorded): Replay {
  const feature = featureOf(r);
  const body = r.body;
  const thinking = (body.thinking as { type?: string } | undefined)?.type === 'enabled';
  const messages = (body.messages ?? []) as { role: string; content: unknown }[];
  const lastAssistant = [...messages].reverse().find((m) => m.role === 'assistant');
  const blocks = Array.isArray(lastAssistant?.content) ? (lastAssistant.content as { type: string; signature?: string }[]) : [];
  if (thinking && blocks.some((b) => b.type === 'tool_use')) {
    if (blocks[0]?.type !== 'thinking' && blocks[0]?.type !== 'redacted_thinking')
      return anthropicError(
        400,
        'invalid_request_error',
        'messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`.',
      );
    if (blocks[0].type === 'thinking' && blocks[0].signature !== SIGNATURE.anthropic) return anthropicError(400, 'invalid_request_error', 'messages.1.content.0: Invalid `signature` in `thinking` block');
  }
  const second = isSecondTurn(r);
  const cached = feature === 'cache usage' ? USAGE.cached : 0;
  const frames = [
    named('message_start', {
      message: {
        id: 'msg_conf1',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude-sonnet-4-5-20250929',
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: USAGE.input - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached, output_tokens: 1, service_tier: 'standard' },
      },
    }),
  ];
  let index = 0;
  if (thinking && !second) {
    frames.push(named('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }));
    for (const w of words(THOUGHT)) frames.push(named('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: w } }));
    frames.push(named('content_block_delta', { index, delta: { type: 'signature_delta', signature: SIGNATURE.anthropic } }));
    frames.push(named('content_block_stop', { index }));
    index++;
  }
  if (feature === 'error mid-stream') {
    frames.push(named('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    for (const w of words(PARTIAL)) frames.push(named('content_block_delta', { index, delta: { type: 'text_delta', text: w } }));
    frames.push(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`);
    return { frames, headers: { 'request-id': 'req_conf_anthropic' } };
  }
  const todo = second ? [] : calls(feature);
  if (todo.length === 0) {
    frames.push(named('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    frames.push(named('ping', {}));
    for (const w of words(second ? AFTER_TOOLS : ANSWER)) frames.push(named('content_block_delta', { index, delta: { type: 'text_delta', text: w } }));
    frames.push(named('content_block_stop', { index }));
    index++;
  }
  for (const c of todo) {
    frames.push(named('content_block_start', { index, content_block: { type: 'tool_use', id: `toolu_${c.id}`, name: c.name, input: {} } }));
    frames.push(named('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }));
    for (const p of pieces(JSON.stringify(c.args))) frames.push(named('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } }));
    frames.push(named('content_block_stop', { index }));
    index++;
  }
  const output = { output_tokens: USAGE.output, ...(thinking && !second ? { output_tokens_details: { thinking_tokens: USAGE.reasoning } } : {}) };
  frames.push(named('message_delta', { delta: { stop_reason: todo.length ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: output }));
  frames.push(named('message_stop', {}));
  return { frames, headers: { 'request-id': 'req_conf_anthropic' } };
}

// ---------------------------------------------------------------------------------------------
// Gemini: ai.google.dev/api/generate-content#method:-models.streamgeneratecontent (SSE chunks,
// usageMetadata with cachedContentTokenCount and thoughtsTokenCount),
// ai.google.dev/gemini-api/docs/thinking#summaries (thought parts with includeThoughts),
// ai.google.dev/gemini-api/docs/thought-signatures (Gemini 3 signs the first function call of a
// step and refuses the next turn without it; parallel calls: only the first is signed).
// Gemini documents no in-stream error event; the mock sends the REST error object
// (ai.google.dev/gemini-api/docs/troubleshooting#error-codes) as an event after partial output.
// ---------------------------------------------------------------------------------------------
function geminiError(code: number, status: string, message: string): Replay {
  return { status: code, json: { error: { code, message, status } } };
}

export function geminiScript(r: Recorded): Replay {
  const feature = featureOf(r);
  const contents = (r.body.contents ?? []) as { role: string; parts: Record<string, unknown>[] }[];
  for (const c of contents)
    for (const p of c.parts)
      if (p.functionCall && (p.functionCall as { name?: string }).name === CALLS[0].name && p.thoughtSignature !== SIGNATURE.gemini)
        return geminiError(400, 'INVALID_ARGUMENT', 'Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance.');
  const config = (r.body.generationConfig ?? {}) as { thinkingConfig?: { includeThoughts?: boolean } };
  const second = isSecondTurn(r);
  const cached = feature === 'cache usage' ? USAGE.cached : 0;
  const meta = { modelVersion: 'gemini-3-pro-preview', responseId: 'conf-gemini-1' };
  const running = { promptTokenCount: USAGE.input, totalTokenCount: USAGE.input, ...(cached ? { cachedContentTokenCount: cached } : {}) };
  const chunk = (parts: unknown[], extra: Record<string, unknown> = {}, usage: Record<string, unknown> = running) =>
    data({ candidates: [{ content: { parts, role: 'model' }, index: 0, ...extra }], usageMetadata: usage, ...meta });
  const frames: string[] = [];
  if (feature === 'thinking' && !second && config.thinkingConfig?.includeThoughts) frames.push(chunk([{ text: THOUGHT, thought: true }]));
  if (feature === 'error mid-stream') {
    for (const w of words(PARTIAL)) frames.push(chunk([{ text: w }]));
    frames.push(data({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } }));
    return { frames };
  }
  const todo = second ? [] : calls(feature);
  if (todo.length === 0) for (const w of words(second ? AFTER_TOOLS : ANSWER)) frames.push(chunk([{ text: w }]));
  else frames.push(chunk(todo.map((c, i) => ({ functionCall: { name: c.name, args: c.args }, ...(i === 0 ? { thoughtSignature: SIGNATURE.gemini } : {}) }))));
  const thoughts = feature === 'thinking' && !second ? USAGE.reasoning : 0;
  frames.push(
    chunk([], { finishReason: 'STOP' }, {
      promptTokenCount: USAGE.input,
      candidatesTokenCount: USAGE.output - thoughts,
      totalTokenCount: USAGE.input + USAGE.output,
      ...(cached ? { cachedContentTokenCount: cached } : {}),
      ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    }),
  );
  return { frames };
}

export interface Upstreams {
  openai: ReplayProvider;
  anthropic: ReplayProvider;
  gemini: ReplayProvider;
}

export async function startUpstreams(): Promise<Upstreams> {
  const [openai, anthropic, gemini] = await Promise.all([new ReplayProvider(openaiScript).start(), new ReplayProvider(anthropicScript).start(), new ReplayProvider(geminiScript).start()]);
  return { openai, anthropic, gemini };
}
