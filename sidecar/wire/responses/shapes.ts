// OpenAI Responses API, the shapes every direction shares: response and item ids, usage, the
// request fields a response object repeats, and how a reasoning block's opaque proof travels in
// `encrypted_content` when it came from another provider.
import type { JsonObject, ReasoningOrigin, ReasoningPart, Usage } from '../../chat/types.ts';
import { isObject, num } from '../json.ts';

const UUID = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/;

/**
 * The id of a response the sidecar makes (translated answers, background responses): the
 * request's id, so `GET /v1/responses/{id}` and `/airoute/v1/requests/{id}/events` name the same
 * thing.
 */
export function responseIdOf(requestId: string): string {
  return `resp_${requestId.replaceAll('-', '')}`;
}

/** The request id behind a response id the sidecar made, or undefined for any other id (an upstream's own). */
export function requestIdOf(responseId: string): string | undefined {
  if (!responseId.startsWith('resp_')) return undefined;
  const m = UUID.exec(responseId.slice('resp_'.length));
  return m ? `${m[1]}-${m[2]}-${m[3]}-${m[4]}-${m[5]}` : undefined;
}

const ITEM_PREFIX: Record<string, string> = { message: 'msg', function_call: 'fc', reasoning: 'rs' };

/** The response a sidecar-made item id belongs to (`msg_<hex>_<n>` → `resp_<hex>`), or undefined for any other id. */
export function responseIdOfItem(id: string): string | undefined {
  const m = /^(?:msg|fc|rs|item)_([0-9a-f]{32})_\d+$/.exec(id);
  return m ? `resp_${m[1]}` : undefined;
}

/** Output item ids are a function of the response id and the item's position, so a replay names them the same way every time. */
export function itemId(responseId: string, type: string, outputIndex: number): string {
  const tail = responseId.startsWith('resp_') ? responseId.slice('resp_'.length) : responseId;
  return `${ITEM_PREFIX[type] ?? 'item'}_${tail}_${outputIndex}`;
}

export function responsesUsage(u: Usage): JsonObject {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cacheReadTokens ?? 0 },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

export function usageFromResponses(u: unknown): Usage | undefined {
  if (!isObject(u)) return undefined;
  const usage: Usage = { inputTokens: num(u.input_tokens), outputTokens: num(u.output_tokens) };
  if (isObject(u.input_tokens_details) && typeof u.input_tokens_details.cached_tokens === 'number') usage.cacheReadTokens = u.input_tokens_details.cached_tokens;
  if (isObject(u.output_tokens_details) && typeof u.output_tokens_details.reasoning_tokens === 'number') usage.reasoningTokens = u.output_tokens_details.reasoning_tokens;
  return usage;
}

/** The request fields a response object repeats, with the API's defaults for those left out. */
export function echoOf(body: JsonObject): JsonObject {
  const r = isObject(body.reasoning) ? body.reasoning : {};
  return {
    background: body.background === true,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: r.effort ?? null, summary: r.summary ?? null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? 'disabled',
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  };
}

/** The client asked for reasoning's opaque content back (it keeps state itself, `store: false`). */
export function wantsReasoningProof(body: JsonObject): boolean {
  return Array.isArray(body.include) && body.include.includes('reasoning.encrypted_content');
}

type Proof = Pick<ReasoningPart, 'origin' | 'signature' | 'encrypted' | 'redacted'>;

const PROOF_PREFIX = 'airoute.v1.';

/**
 * A reasoning block's proof as `encrypted_content`. OpenAI's own encrypted content goes as it
 * came; another provider's (an Anthropic thinking signature, a Gemini thought signature) is
 * wrapped with its origin, so that a client which passes the item back gets it to the provider
 * that can verify it, and never to one that cannot.
 */
export function encodeProof(p: Proof): string | undefined {
  if (p.origin === 'responses') return p.encrypted;
  if (p.signature === undefined && p.redacted === undefined && p.encrypted === undefined) return undefined;
  // JSON leaves the undefined ones out.
  const packed = JSON.stringify({ o: p.origin, s: p.signature, r: p.redacted, e: p.encrypted });
  return PROOF_PREFIX + Buffer.from(packed).toString('base64url');
}

export function decodeProof(content: string): Proof {
  if (!content.startsWith(PROOF_PREFIX)) return { origin: 'responses', encrypted: content };
  try {
    const p: unknown = JSON.parse(Buffer.from(content.slice(PROOF_PREFIX.length), 'base64url').toString('utf8'));
    if (isObject(p) && typeof p.o === 'string') {
      const proof: Proof = { origin: p.o as ReasoningOrigin };
      if (typeof p.s === 'string') proof.signature = p.s;
      if (typeof p.r === 'string') proof.redacted = p.r;
      if (typeof p.e === 'string') proof.encrypted = p.e;
      return proof;
    }
  } catch {
    // not ours after all: treated as OpenAI's own below
  }
  return { origin: 'responses', encrypted: content };
}

/** A request's input as items (a string input is one user message). */
export function inputItems(input: unknown): JsonObject[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  return Array.isArray(input) ? input.filter(isObject) : [];
}

/**
 * A response's output as input items for the next turn: messages and function calls in their
 * input form; reasoning and OpenAI's own items (built-in tool calls) go back as they came.
 */
export function outputToInput(output: readonly unknown[]): JsonObject[] {
  const items: JsonObject[] = [];
  for (const o of output) {
    if (!isObject(o)) continue;
    if (o.type === 'message')
      items.push({
        type: 'message',
        role: 'assistant',
        content: (Array.isArray(o.content) ? o.content.filter(isObject) : []).map((p) => (p.type === 'output_text' ? { type: 'output_text', text: p.text, annotations: [] } : p)),
      });
    else if (o.type === 'function_call') items.push({ type: 'function_call', call_id: o.call_id, name: o.name, arguments: o.arguments });
    else items.push(o);
  }
  return items;
}
