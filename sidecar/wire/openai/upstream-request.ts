// OpenAI Chat Completions, upstream request: the body sent to a provider that speaks it. A client
// of the same format gets its own body back with the model replaced; any other client's prompt
// is built from the neutral form.
import { invalidRequest } from '../../errors.ts';
import type { ChatRequest, JsonObject, ToolChoice } from '../../chat/types.ts';
import { dataUrl } from '../data-url.ts';
import { openaiFilename, refuseFile } from '../file.ts';
import { isObject } from '../json.ts';
import { modelAndStream, withMembers } from '../raw-json.ts';
import { refuseParameters } from '../parameters.ts';
import { effortForBudget } from '../reasoning.ts';

/** How one server family's Chat Completions differs from another's, for bodies built by translation. */
export interface OpenAIDialect {
  /** For refusals: "OpenAI", "Azure OpenAI", "OpenAI-compatible". */
  label: string;
  /** Where a token cap goes: OpenAI's reasoning models refuse `max_tokens` ("use max_completion_tokens"). */
  maxTokens: 'max_completion_tokens' | 'max_tokens';
  /** The server takes sampling parameters beyond OpenAI's (`top_k`: vLLM, SGLang, llama.cpp; Ollama ignores it). */
  topK: boolean;
}

export interface OpenAIBodyOptions {
  stream: boolean;
  prefill?: string;
  /** vLLM/SGLang spelling for "continue the trailing assistant message". */
  continueFinalMessage: boolean;
  dialect: OpenAIDialect;
}

function withPrefill(messages: unknown[], prefill: string): unknown[] {
  const last = messages[messages.length - 1];
  if (isObject(last) && last.role === 'assistant' && typeof last.content === 'string' && !Array.isArray(last.tool_calls))
    return [...messages.slice(0, -1), { ...last, content: last.content + prefill }];
  return [...messages, { role: 'assistant', content: prefill }];
}

/**
 * The body's text. A same-format request without a prefill is the client's own text with the
 * model and the stream flags spliced in (wire/raw-json.ts); anything else is built and serialised.
 */
export function openaiBodyText(req: ChatRequest, model: string, opts: OpenAIBodyOptions): string {
  if (req.format === 'openai' && req.raw && opts.prefill === undefined) {
    const set = sameFormatMembers(req.body, model, opts.stream);
    const spliced = set && withMembers(req.raw, set);
    if (spliced !== undefined) return spliced;
  }
  return JSON.stringify(openaiBody(req, model, opts));
}

/** What openaiBody changes in a same-format body, as JSON texts; undefined when that takes more than setting members (stream_options to drop or merge). */
function sameFormatMembers(body: JsonObject, model: string, stream: boolean): Record<string, string> | undefined {
  const set = modelAndStream(body, model, stream);
  const options = body.stream_options;
  if (stream) {
    if (options === undefined) set.stream_options = '{"include_usage":true}';
    else if (!isObject(options) || options.include_usage !== true) return undefined;
  } else if (options !== undefined) return undefined;
  return set;
}

export function openaiBody(req: ChatRequest, model: string, opts: OpenAIBodyOptions): JsonObject {
  const body: JsonObject = req.format === 'openai' ? { ...req.body, model } : promptToOpenAI(req, model, opts.dialect);
  body.stream = opts.stream;
  if (opts.stream) {
    // Always ask for usage so metrics and events see tokens; the encoder drops the chunk for a client that did not ask.
    body.stream_options = { ...(isObject(req.body.stream_options) ? req.body.stream_options : {}), include_usage: true };
  } else delete body.stream_options;
  if (opts.prefill !== undefined) {
    body.messages = withPrefill(body.messages as unknown[], opts.prefill);
    if (opts.continueFinalMessage) {
      body.continue_final_message = true;
      body.add_generation_prompt = false;
    }
  }
  return body;
}

function promptToOpenAI(req: ChatRequest, model: string, dialect: OpenAIDialect): JsonObject {
  const p = req.prompt();
  refuseParameters(req, p.topK !== undefined && !dialect.topK ? ['topK'] : [], dialect.label);
  const messages: JsonObject[] = [];
  if (p.system !== undefined) messages.push({ role: 'system', content: p.system });
  for (const m of p.messages) {
    if (m.role === 'assistant') {
      const text = m.content.filter((x) => x.type === 'text').map((x) => (x as { text: string }).text).join('');
      const calls = m.content.filter((x) => x.type === 'tool_call');
      const msg: JsonObject = { role: 'assistant', content: text || (calls.length ? null : '') };
      if (calls.length)
        msg.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } }));
      messages.push(msg);
      continue;
    }
    for (const part of m.content)
      if (part.type === 'tool_result') messages.push({ role: 'tool', tool_call_id: part.toolCallId, content: part.content });
    const rest = m.content.filter((x) => x.type !== 'tool_result');
    if (rest.length === 0) continue;
    if (rest.length === 1 && rest[0]?.type === 'text') messages.push({ role: 'user', content: rest[0].text });
    else
      messages.push({
        role: 'user',
        content: rest.map((x) => {
          if (x.type === 'text') return { type: 'text', text: x.text };
          if (x.type === 'image') return { type: 'image_url', image_url: { url: x.url ?? dataUrl(x) } };
          if (x.type === 'file') {
            if (x.url !== undefined) throw refuseFile(x, dialect.label, 'a file by URL (Chat Completions takes file data only)');
            return { type: 'file', file: { filename: openaiFilename(x), file_data: dataUrl(x) } };
          }
          throw invalidRequest('a tool call cannot appear in a user message', 'messages');
        }),
      });
  }
  const body: JsonObject = { model, messages };
  if (p.maxTokens !== undefined) body[dialect.maxTokens] = p.maxTokens;
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  if (p.topK !== undefined) body.top_k = p.topK;
  if (p.stop?.length) body.stop = p.stop;
  if (p.seed !== undefined) body.seed = p.seed;
  if (p.presencePenalty !== undefined) body.presence_penalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) body.frequency_penalty = p.frequencyPenalty;
  if (p.user !== undefined) body.user = p.user;
  const effort = p.reasoning?.effort ?? (p.reasoning?.budgetTokens !== undefined ? effortForBudget(p.reasoning.budgetTokens) : undefined);
  if (effort !== undefined) body.reasoning_effort = effort;
  if (p.tools?.length) {
    body.tools = p.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
    // OpenAI accepts parallel_tool_calls only beside tools.
    if (p.parallelToolCalls !== undefined) body.parallel_tool_calls = p.parallelToolCalls;
  }
  if (p.toolChoice) body.tool_choice = toolChoiceToOpenAI(p.toolChoice);
  if (p.responseFormat?.type === 'json_object') body.response_format = { type: 'json_object' };
  else if (p.responseFormat?.type === 'json_schema')
    body.response_format = { type: 'json_schema', json_schema: { name: p.responseFormat.name ?? 'response', schema: p.responseFormat.schema } };
  return body;
}

function toolChoiceToOpenAI(c: ToolChoice): unknown {
  return c.type === 'tool' ? { type: 'function', function: { name: c.name } } : c.type;
}
