// The OpenAI Responses API as the mock provider speaks it (`POST .../responses`), after OpenAI's
// documented wire format: a `response` object, or typed SSE events with `event:` lines and
// gapless `sequence_number`s, reasoning summary and function-call items included.
import type { AnswerScript, ToolCallScript } from './mock-provider.ts';

export interface ResponsesWireFrame {
  text: string;
  /** Counts toward dropAfter/stallAfter (a text or argument delta). */
  content?: boolean;
  /** The stream's last event (response.completed). */
  terminator?: boolean;
}

const CREATED_AT = 1700000000;
export const MOCK_RESPONSE_ID = 'resp_mock0123456789abcdef';

function usageOf(inTok: number, outTok: number, reasoning: number) {
  return { input_tokens: inTok, input_tokens_details: { cached_tokens: 0 }, output_tokens: outTok, output_tokens_details: { reasoning_tokens: reasoning }, total_tokens: inTok + outTok };
}

function base(body: Record<string, unknown>, model: string, status: string) {
  return {
    id: MOCK_RESPONSE_ID,
    object: 'response',
    created_at: CREATED_AT,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model,
    output: [] as unknown[],
    parallel_tool_calls: true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    store: body.store ?? true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: body.tools ?? [],
    top_p: 1,
    truncation: 'disabled',
    usage: null as unknown,
    metadata: {},
  };
}

const messageItem = (text: string, status: string) => ({
  id: 'msg_mock1',
  type: 'message',
  status,
  content: status === 'in_progress' ? [] : [{ type: 'output_text', annotations: [], logprobs: [], text }],
  role: 'assistant',
});
const toolItem = (t: ToolCallScript, i: number, status: string) => ({ id: `fc_mock${i}`, type: 'function_call', status, arguments: status === 'in_progress' ? '' : t.arguments, call_id: t.id, name: t.name });
const reasoningItem = (text: string) => ({ id: 'rs_mock1', type: 'reasoning', summary: text ? [{ type: 'summary_text', text }] : [], encrypted_content: 'gAAAAmockEncryptedReasoning' });

function outputOf(a: AnswerScript): unknown[] {
  return [
    ...(a.reasoning !== undefined ? [reasoningItem(a.reasoning)] : []),
    ...(a.text ? [messageItem(a.text, 'completed')] : []),
    ...(a.toolCalls ?? []).map((t, i) => toolItem(t, i, 'completed')),
  ];
}

function finished(body: Record<string, unknown>, model: string, a: AnswerScript, inTok: number, outTok: number) {
  const length = a.finish === 'length';
  return {
    ...base(body, model, length ? 'incomplete' : 'completed'),
    ...(length ? { incomplete_details: { reason: 'max_output_tokens' } } : {}),
    output: outputOf(a),
    usage: usageOf(inTok, outTok, a.reasoning ? 7 : 0),
  };
}

export function responsesJson(body: Record<string, unknown>, model: string, a: AnswerScript, inTok: number, outTok: number): unknown {
  return finished(body, model, a, inTok, outTok);
}

export function responsesFrames(
  body: Record<string, unknown>,
  model: string,
  a: AnswerScript,
  pieces: string[],
  argPieces: (args: string) => string[],
  inTok: number,
  outTok: number,
): ResponsesWireFrame[] {
  const out: ResponsesWireFrame[] = [];
  let seq = 0;
  const ev = (type: string, fields: object, flags: Omit<ResponsesWireFrame, 'text'> = {}) =>
    out.push({ text: `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: seq++ })}\n\n`, ...flags });
  ev('response.created', { response: base(body, model, 'in_progress') });
  ev('response.in_progress', { response: base(body, model, 'in_progress') });
  let index = 0;
  if (a.reasoning !== undefined) {
    const item = reasoningItem(a.reasoning);
    ev('response.output_item.added', { output_index: index, item: { id: item.id, type: 'reasoning', summary: [] } });
    if (a.reasoning) {
      const part = { item_id: item.id, output_index: index, summary_index: 0 };
      ev('response.reasoning_summary_part.added', { ...part, part: { type: 'summary_text', text: '' } });
      ev('response.reasoning_summary_text.delta', { ...part, delta: a.reasoning }, { content: true });
      ev('response.reasoning_summary_text.done', { ...part, text: a.reasoning });
      ev('response.reasoning_summary_part.done', { ...part, part: { type: 'summary_text', text: a.reasoning } });
    }
    ev('response.output_item.done', { output_index: index, item });
    index++;
  }
  if (pieces.length) {
    const at = { item_id: 'msg_mock1', output_index: index, content_index: 0 };
    ev('response.output_item.added', { output_index: index, item: messageItem('', 'in_progress') });
    ev('response.content_part.added', { ...at, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } });
    for (const p of pieces) ev('response.output_text.delta', { ...at, delta: p, logprobs: [] }, { content: true });
    const text = pieces.join('');
    ev('response.output_text.done', { ...at, text, logprobs: [] });
    ev('response.content_part.done', { ...at, part: { type: 'output_text', annotations: [], logprobs: [], text } });
    ev('response.output_item.done', { output_index: index, item: messageItem(text, 'completed') });
    index++;
  }
  (a.toolCalls ?? []).forEach((t, i) => {
    ev('response.output_item.added', { output_index: index, item: toolItem(t, i, 'in_progress') }, { content: true });
    for (const frag of argPieces(t.arguments)) ev('response.function_call_arguments.delta', { item_id: `fc_mock${i}`, output_index: index, delta: frag }, { content: true });
    ev('response.function_call_arguments.done', { item_id: `fc_mock${i}`, output_index: index, arguments: t.arguments });
    ev('response.output_item.done', { output_index: index, item: toolItem(t, i, 'completed') });
    index++;
  });
  const done = finished(body, model, { ...a, text: pieces.join('') }, inTok, outTok);
  ev(done.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response: done }, { terminator: true });
  return out;
}

/** An error event after the headers, as OpenAI sends it mid-stream. */
export function responsesErrorEvent(seq: number): string {
  return `event: error\ndata: ${JSON.stringify({ type: 'error', code: 'server_error', message: 'The server had an error while processing your request.', param: null, sequence_number: seq })}\n\n`;
}

/** The trailing assistant text of a Responses input (an assistant prefix), if there is one. */
export function responsesPrefill(body: Record<string, unknown>): string | undefined {
  const input = Array.isArray(body.input) ? body.input : [];
  const last = input[input.length - 1] as { role?: string; content?: unknown } | undefined;
  if (last?.role !== 'assistant') return undefined;
  return typeof last.content === 'string' ? last.content : undefined;
}
