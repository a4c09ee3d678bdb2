// Anthropic Messages, upstream request: the body sent to Anthropic. A client of the same format
// gets its own body back with the model replaced; any other client's prompt is built from the
// neutral form.
import { invalidRequest } from '../../errors.ts';
import type { ChatPrompt, ChatRequest, FilePart, JsonObject, Part, ReasoningEffort, ToolChoice } from '../../chat/types.ts';
import { parseArguments } from '../../chat/types.ts';
import { PDF, refuseFile } from '../file.ts';
import { isObject, str } from '../json.ts';
import { clientParam, refuseParameters, type NeutralParameter } from '../parameters.ts';
import { modelAndStream, withMembers } from '../raw-json.ts';
import { budgetForEffort } from '../reasoning.ts';

export const ANTHROPIC_VERSION = '2023-06-01';
/** Anthropic requires max_tokens; an OpenAI client may omit it. */
export const DEFAULT_MAX_TOKENS = 4096;

function withPrefill(messages: unknown[], prefill: string): unknown[] {
  const last = messages[messages.length - 1];
  if (isObject(last) && last.role === 'assistant') {
    if (typeof last.content === 'string') return [...messages.slice(0, -1), { ...last, content: last.content + prefill }];
    if (Array.isArray(last.content)) {
      const blocks = [...last.content];
      const tail = blocks[blocks.length - 1];
      if (isObject(tail) && tail.type === 'text') blocks[blocks.length - 1] = { ...tail, text: str(tail.text) + prefill };
      else blocks.push({ type: 'text', text: prefill });
      return [...messages.slice(0, -1), { ...last, content: blocks }];
    }
  }
  return [...messages, { role: 'assistant', content: prefill }];
}

/**
 * The body's text. A same-format request without a prefill is the client's own text with the
 * model and the stream flag spliced in (wire/raw-json.ts); anything else is built and serialised.
 */
export function anthropicBodyText(req: ChatRequest, model: string, opts: { stream: boolean; prefill?: string }): string {
  if (req.format === 'anthropic' && req.raw && (opts.prefill === undefined || opts.prefill === '')) {
    const spliced = withMembers(req.raw, modelAndStream(req.body, model, opts.stream));
    if (spliced !== undefined) return spliced;
  }
  return JSON.stringify(anthropicBody(req, model, opts));
}

export function anthropicBody(req: ChatRequest, model: string, opts: { stream: boolean; prefill?: string }): JsonObject {
  const body: JsonObject = req.format === 'anthropic' ? { ...req.body, model } : promptToAnthropic(req, model);
  body.stream = opts.stream;
  if (opts.prefill !== undefined && opts.prefill !== '') body.messages = withPrefill(body.messages as unknown[], opts.prefill);
  return body;
}

function promptToAnthropic(req: ChatRequest, model: string): JsonObject {
  const p = req.prompt();
  const refused: NeutralParameter[] = [];
  if (p.seed !== undefined) refused.push('seed');
  if (p.presencePenalty !== undefined) refused.push('presencePenalty');
  if (p.frequencyPenalty !== undefined) refused.push('frequencyPenalty');
  if (req.choices > 1) refused.push('choices');
  // Structured output needs a schema here; "any JSON object" has no Anthropic form.
  if (p.responseFormat?.type === 'json_object') refused.push('responseFormat');
  refuseParameters(req, refused, 'Anthropic');
  const messages = p.messages
    .map((m) => ({ role: m.role, content: m.content.flatMap(block) }))
    .filter((m) => m.content.length > 0);
  const body: JsonObject = { model, messages, max_tokens: p.maxTokens ?? DEFAULT_MAX_TOKENS };
  if (p.system) body.system = p.system;
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  if (p.topK !== undefined) body.top_k = p.topK;
  if (p.stop?.length) body.stop_sequences = p.stop;
  if (p.user !== undefined) body.metadata = { user_id: p.user };
  if (p.tools?.length) body.tools = p.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters }));
  if (p.toolChoice || p.parallelToolCalls === false) {
    const choice = toolChoiceToAnthropic(p.toolChoice ?? { type: 'auto' });
    if (p.parallelToolCalls === false && choice.type !== 'none') choice.disable_parallel_tool_use = true;
    body.tool_choice = choice;
  }
  if (p.responseFormat?.type === 'json_schema') body.output_config = { format: { type: 'json_schema', schema: p.responseFormat.schema } };
  thinking(p, body, req);
  return body;
}

/** A neutral part as content blocks; reasoning keeps its place only where Anthropic can verify it. */
function block(x: Part): JsonObject[] {
  switch (x.type) {
    case 'text':
      return x.text === '' ? [] : [{ type: 'text', text: x.text }];
    case 'image':
      return [{ type: 'image', source: x.url ? { type: 'url', url: x.url } : { type: 'base64', media_type: x.mediaType, data: x.data } }];
    case 'file':
      return [document(x)];
    case 'tool_call':
      return [{ type: 'tool_use', id: x.id, name: x.name, input: parseArguments(x.arguments) }];
    case 'tool_result':
      return [{ type: 'tool_result', tool_use_id: x.toolCallId, content: x.content, ...(x.isError ? { is_error: true } : {}) }];
    case 'reasoning':
      if (x.origin !== 'anthropic') return [];
      if (x.redacted !== undefined) return [{ type: 'redacted_thinking', data: x.redacted }];
      return x.signature ? [{ type: 'thinking', thinking: x.text, signature: x.signature }] : [];
  }
}

/**
 * A `document` block: Anthropic reads PDFs (inline or by URL) and plain text, which it wants as
 * the text itself. Any text type goes as plain text: the model reads the same characters. The file
 * name, which a Messages document has no other place for, is its title.
 */
function document(x: FilePart): JsonObject {
  const title = x.filename ? { title: x.filename } : {};
  if (x.url !== undefined) {
    if (x.mediaType !== undefined && x.mediaType !== PDF) throw refuseFile(x, 'Anthropic', `a ${x.mediaType} file by URL (URL documents are PDFs there)`);
    return { type: 'document', source: { type: 'url', url: x.url }, ...title };
  }
  if (x.mediaType === PDF) return { type: 'document', source: { type: 'base64', media_type: PDF, data: x.data }, ...title };
  if (x.mediaType.startsWith('text/'))
    return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: Buffer.from(x.data, 'base64').toString('utf8') }, ...title };
  throw refuseFile(x, 'Anthropic', `a ${x.mediaType} file (documents there are PDF or plain text)`);
}

/**
 * An effort becomes a thinking budget (wire/reasoning.ts). Anthropic counts thinking inside
 * max_tokens and wants the budget below it: a client that gave no cap gets the default on top of
 * the budget; one that gave a cap keeps it, and the budget shrinks to fit.
 */
function thinking(p: ChatPrompt, body: JsonObject, req: ChatRequest): void {
  const r = p.reasoning;
  if (!r || (r.effort === undefined && r.budgetTokens === undefined)) return;
  if (r.effort === 'none') return void (body.thinking = { type: 'disabled' });
  // Anthropic refuses a thinking request whose last assistant turn called tools without its signed
  // thinking (which a client of another format cannot carry back), and says to turn thinking off.
  const last = [...p.messages].reverse().find((m) => m.role === 'assistant');
  if (last?.content.some((x) => x.type === 'tool_call') && !last.content.some((x) => x.type === 'reasoning' && x.origin === 'anthropic' && (x.signature || x.redacted !== undefined)))
    return;
  let budget = Math.max(MIN_THINKING_BUDGET, r.budgetTokens ?? budgetForEffort(r.effort as Exclude<ReasoningEffort, 'none'>));
  if (p.maxTokens === undefined) body.max_tokens = DEFAULT_MAX_TOKENS + budget;
  else {
    if (p.maxTokens <= MIN_THINKING_BUDGET)
      throw invalidRequest(`reasoning needs a token limit above ${MIN_THINKING_BUDGET} on an Anthropic backend (its minimum thinking budget)`, clientParam(req, 'maxTokens'));
    budget = Math.min(budget, p.maxTokens - 1);
  }
  body.thinking = { type: 'enabled', budget_tokens: budget };
}

/** Anthropic's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1024;

function toolChoiceToAnthropic(c: ToolChoice): JsonObject {
  switch (c.type) {
    case 'required':
      return { type: 'any' };
    case 'tool':
      return { type: 'tool', name: c.name };
    default:
      return { type: c.type };
  }
}
