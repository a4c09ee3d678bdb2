// OpenAI Responses API, upstream request: the body sent to a provider that speaks it. A Responses
// client gets its own body back with the model replaced (the sidecar's own fields taken out); a
// Chat Completions or Messages client's prompt is built from the neutral form.
import type { ChatPrompt, ChatRequest, JsonObject, Part, ToolChoice } from '../../chat/types.ts';
import { isResponsesRequest, type ResponsesRequest } from './client-request.ts';
import { dataUrl } from '../data-url.ts';
import { openaiFilename } from '../file.ts';
import { isObject } from '../json.ts';
import { modelAndStream, withMembers } from '../raw-json.ts';
import { refuseParameters, type NeutralParameter } from '../parameters.ts';
import { effortForBudget } from '../reasoning.ts';
import { decodeProof } from './shapes.ts';

export interface ResponsesBodyOptions {
  stream: boolean;
  /** Text already delivered, to be continued (resume: prefill). */
  prefill?: string;
  /** The backend the body goes to: one that keeps the `previous_response_id` itself is handed the id. */
  backend: string;
}

/**
 * The body's text. A Responses client's request that needs nothing but the model and the stream
 * flag changed is its own text with those spliced in (wire/raw-json.ts); anything sameFormat()
 * rewrites (background, stored turns, the sidecar's item references, reasoning another provider
 * made), a prefill or stream_options to drop is built and serialised.
 */
export function responsesBodyText(req: ChatRequest, model: string, opts: ResponsesBodyOptions): string {
  if (isResponsesRequest(req) && req.raw && (opts.prefill === undefined || opts.prefill === '') && splicesAsIs(req, opts)) {
    const spliced = withMembers(req.raw, modelAndStream(req.body, model, opts.stream));
    if (spliced !== undefined) return spliced;
  }
  return JSON.stringify(responsesBody(req, model, opts));
}

/** Whether sameFormat() and responsesBody() would change nothing but the model and the stream flag. */
function splicesAsIs(req: ResponsesRequest, opts: ResponsesBodyOptions): boolean {
  const body = req.body;
  if ('background' in body || (!opts.stream && 'stream_options' in body)) return false;
  if (req.prior && req.prior.keptBy !== opts.backend) return false;
  if (req.references?.size) return false;
  return !Array.isArray(body.input) || body.input.every((i: unknown) => !isObject(i) || servable(i));
}

export function responsesBody(req: ChatRequest, model: string, opts: ResponsesBodyOptions): JsonObject {
  const body = isResponsesRequest(req) ? sameFormat(req, model, opts.backend) : promptToResponses(req, model);
  body.stream = opts.stream;
  if (!opts.stream) delete body.stream_options;
  if (opts.prefill !== undefined && opts.prefill !== '') body.input = [...asItems(body.input), { role: 'assistant', content: opts.prefill }];
  return body;
}

function asItems(input: unknown): unknown[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  // Stryker disable next-line ArrayDeclaration: unreachable: a decoded request's input is a string or an array (decodeResponsesRequest refuses anything else; a translated prompt builds an array)
  return Array.isArray(input) ? input : [];
}

/**
 * The client's body with the model replaced. `background` goes: the sidecar runs background
 * responses itself, on its journal, so the upstream serves a plain (streamed) request. A
 * `previous_response_id` the sidecar stored is replaced by the stored turns, unless this very
 * backend keeps that response too.
 */
function sameFormat(req: ResponsesRequest, model: string, backend: string): JsonObject {
  const body: JsonObject = { ...req.body, model };
  delete body.background;
  // Reasoning the sidecar translated from another provider (its proof wrapped with that origin) cannot go to OpenAI.
  if (Array.isArray(body.input)) body.input = body.input.filter((i: unknown) => !isObject(i) || servable(i));
  const prior = req.prior;
  if (prior && prior.keptBy !== backend) {
    delete body.previous_response_id;
    body.input = [...prior.items.filter(servable), ...asItems(body.input)];
  }
  // References to items of responses the sidecar made: OpenAI never saw those ids.
  const refs = req.references;
  if (refs && Array.isArray(body.input))
    body.input = body.input
      .map((item: unknown) =>
        isObject(item) &&
        item.type === 'item_reference' &&
        // Stryker disable next-line ConditionalExpression: made true, a non-string id is looked up in a map keyed by strings, which finds nothing: the item stays itself (made false, it is killed)
        typeof item.id === 'string'
          ? (refs.get(item.id) ?? item)
          : item,
      )
      .filter((i) => !isObject(i) || servable(i));
  return body;
}

/** Reasoning another provider produced means nothing to OpenAI (and its proof would be refused): it stays out. */
function servable(item: JsonObject): boolean {
  // Stryker disable next-line ConditionalExpression: made false, other items go through the proof check, which they pass: only reasoning the sidecar made carries a wrapped proof, and OpenAI's own encrypted_content (compaction items) reads as OpenAI's (made true, it is killed)
  if (item.type !== 'reasoning') return true;
  return typeof item.encrypted_content !== 'string' || decodeProof(item.encrypted_content).origin === 'responses';
}

/** What the Responses API has no parameter for (sampling knobs it dropped, stop sequences, several choices). */
function refused(p: ChatPrompt, choices: number): NeutralParameter[] {
  const out: NeutralParameter[] = [];
  if (p.stop?.length) out.push('stop');
  if (p.topK !== undefined) out.push('topK');
  if (p.seed !== undefined) out.push('seed');
  if (p.presencePenalty !== undefined) out.push('presencePenalty');
  if (p.frequencyPenalty !== undefined) out.push('frequencyPenalty');
  if (choices > 1) out.push('choices');
  return out;
}

function promptToResponses(req: ChatRequest, model: string): JsonObject {
  const p = req.prompt();
  refuseParameters(req, refused(p, req.choices), 'OpenAI Responses');
  const input: JsonObject[] = [];
  for (const m of p.messages) {
    if (m.role === 'assistant') input.push(...assistantItems(m.content));
    else input.push(...userItems(m.content));
  }
  // A client of another API cannot pass a stored response back by id: nothing is kept upstream.
  const body: JsonObject = { model, input, store: false };
  // Stryker disable ConditionalExpression: made true, these set a field to undefined, which the body's JSON leaves out: the same bytes go upstream (made false, each is killed)
  if (p.system !== undefined) body.instructions = p.system;
  if (p.maxTokens !== undefined) body.max_output_tokens = p.maxTokens;
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  // Stryker restore ConditionalExpression
  // Responses function tools are strict by default, which refuses most schemas written for Chat Completions or Messages.
  if (p.tools?.length) body.tools = p.tools.map((t) => ({ type: 'function', name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters, strict: false }));
  if (p.toolChoice) body.tool_choice = toolChoiceToResponses(p.toolChoice);
  // Stryker disable ConditionalExpression: as above, an undefined field is left out of the JSON body
  if (p.parallelToolCalls !== undefined) body.parallel_tool_calls = p.parallelToolCalls;
  if (p.user !== undefined) body.user = p.user;
  // Stryker restore ConditionalExpression
  if (p.responseFormat?.type === 'json_object') body.text = { format: { type: 'json_object' } };
  else if (p.responseFormat?.type === 'json_schema') body.text = { format: { type: 'json_schema', name: p.responseFormat.name ?? 'response', schema: p.responseFormat.schema } };
  const r = p.reasoning;
  if (r) {
    // A thinking budget has no OpenAI knob: the nearest effort, by the table Chat Completions uses too.
    const effort = r.effort ?? (r.budgetTokens !== undefined ? effortForBudget(r.budgetTokens) : undefined);
    body.reasoning = { ...(effort ? { effort } : {}), ...(r.summary ? { summary: r.summary } : {}) };
  }
  return body;
}

function userItems(parts: Part[]): JsonObject[] {
  const items: JsonObject[] = [];
  let content: JsonObject[] = [];
  const flush = () => {
    if (content.length) items.push({ role: 'user', content });
    content = [];
  };
  for (const part of parts) {
    if (part.type === 'tool_result') {
      flush();
      items.push({ type: 'function_call_output', call_id: part.toolCallId, output: part.content });
    } else if (part.type === 'text') content.push({ type: 'input_text', text: part.text });
    else if (part.type === 'image') content.push({ type: 'input_image', image_url: part.url ?? dataUrl(part), detail: 'auto' });
    else if (part.type === 'file')
      content.push(
        part.url !== undefined
          ? { type: 'input_file', file_url: part.url, ...(part.filename ? { filename: part.filename } : {}) }
          : { type: 'input_file', filename: openaiFilename(part), file_data: dataUrl(part) },
      );
  }
  flush();
  return items;
}

function assistantItems(parts: Part[]): JsonObject[] {
  const items: JsonObject[] = [];
  for (const part of parts) {
    if (part.type === 'text' && part.text !== '') items.push({ role: 'assistant', content: part.text });
    else if (part.type === 'tool_call') items.push({ type: 'function_call', call_id: part.id, name: part.name, arguments: part.arguments || '{}' });
    // OpenAI's own reasoning goes back only with its encrypted content (nothing is stored upstream to look up by id).
    else if (part.type === 'reasoning' && part.origin === 'responses' && part.encrypted !== undefined)
      items.push({ type: 'reasoning', ...(part.id ? { id: part.id } : {}), summary: part.text ? [{ type: 'summary_text', text: part.text }] : [], encrypted_content: part.encrypted });
  }
  return items;
}

function toolChoiceToResponses(c: ToolChoice): unknown {
  return c.type === 'tool' ? { type: 'function', name: c.name } : c.type;
}

