// The provider-neutral vocabulary the data path speaks between a client format and a provider
// format. Same-format traffic never needs the prompt half (the client's body is forwarded with
// the model replaced); cross-format traffic decodes into it once per request.

import type { RawJson } from '../wire/raw-json.ts';
import type { TokenUsage } from '../../api/v1alpha1/events.ts';

/** Wire formats a client (or a provider) speaks. `openai` is Chat Completions; `responses` is OpenAI's Responses API. */
export type WireFormat = 'openai' | 'anthropic' | 'gemini' | 'responses';
/** Formats a client can call the sidecar in. */
export type ClientFormat = 'openai' | 'anthropic' | 'responses';

/**
 * Reasoning a model did, carried back on the next turn. Its opaque parts (a signature, encrypted
 * content, redacted data) are only meaningful to the provider family that produced them, so each
 * piece says where it came from: a target of another family gets the text (or nothing), never a
 * proof it cannot verify.
 */
export interface ReasoningPart {
  type: 'reasoning';
  /** The thinking (Anthropic) or summary (OpenAI Responses, Gemini thought summaries) text. */
  text: string;
  /** The format whose provider produced the opaque fields below. */
  origin: ReasoningOrigin;
  /** Anthropic `thinking.signature`, Gemini `thoughtSignature`. */
  signature?: string;
  /** OpenAI Responses `encrypted_content`. */
  encrypted?: string;
  /** Anthropic `redacted_thinking.data`. */
  redacted?: string;
  /** OpenAI Responses reasoning item id. */
  id?: string;
}

/** Where opaque reasoning came from: a wire format, or the OpenAI Responses API. */
export type ReasoningOrigin = WireFormat | 'responses';

/**
 * A document the model reads (a PDF, a text file): its bytes as base64, or a URL the provider
 * fetches itself. `field` is the part as the client named it (`input[0].content[1]`,
 * `messages.0.content.2`): a backend format that cannot carry the file refuses it by that name.
 */
export type FilePart = { type: 'file'; field: string; filename?: string } & (
  | { data: string; mediaType: string; url?: undefined }
  | { url: string; mediaType?: string; data?: undefined }
);

export type Part =
  | { type: 'text'; text: string }
  | { type: 'image'; url?: string; mediaType?: string; data?: string }
  | FilePart
  /** `signature`: Gemini's thoughtSignature on a functionCall, which Gemini 3 requires back on the next turn. */
  | { type: 'tool_call'; id: string; name: string; arguments: string; signature?: string }
  | { type: 'tool_result'; toolCallId: string; name?: string; content: string; isError?: boolean }
  | ReasoningPart;

/** How hard to think, in one vocabulary: each format maps its own knob to and from it. */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh' | 'max';

export interface ReasoningRequest {
  /** OpenAI `reasoning_effort` / Responses `reasoning.effort` / Gemini 3 `thinkingLevel`. */
  effort?: ReasoningEffort;
  /** Anthropic `thinking.budget_tokens` / Gemini `thinkingBudget`. */
  budgetTokens?: number;
  /** OpenAI Responses `reasoning.summary`; Gemini `includeThoughts`. */
  summary?: 'auto' | 'concise' | 'detailed';
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: Part[];
}

export interface ToolDef {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

export type ToolChoice = { type: 'auto' } | { type: 'none' } | { type: 'required' } | { type: 'tool'; name: string };

export type ResponseFormat = { type: 'json_object' } | { type: 'json_schema'; schema: Record<string, unknown>; name?: string };

/** A prompt in neutral form, decoded from the client's body only when the backend speaks another format. */
export interface ChatPrompt {
  system?: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Anthropic `top_k`, Gemini `topK`; OpenAI-compatible servers accept `top_k`. */
  topK?: number;
  stop?: string[];
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** An opaque id of the end user, for the provider's abuse detection (OpenAI `user`, Anthropic `metadata.user_id`). */
  user?: string;
  /** `false`: at most one tool call per turn (OpenAI `parallel_tool_calls`, Anthropic `disable_parallel_tool_use`). */
  parallelToolCalls?: boolean;
  tools?: ToolDef[];
  toolChoice?: ToolChoice;
  responseFormat?: ResponseFormat;
  /** Set when the client asked for reasoning (or explicitly for none). */
  reasoning?: ReasoningRequest;
  /** Client parameters with no meaning in another format: refused when a translation is needed. */
  untranslatable: string[];
}

export type JsonObject = Record<string, unknown>;

/** Request headers as Node gives them (lower-case names). */
export type ClientHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface ChatRequest {
  operation: 'chat';
  format: ClientFormat;
  /** The client's request headers: a backend of the same format gets its protocol headers (providers/headers.ts). */
  headers?: ClientHeaders;
  /** The client's JSON body, untouched; same-format backends get it with the model replaced. */
  body: JsonObject;
  /** The body's text as it arrived (set by the HTTP layer): same-format backends get it with members spliced in, not serialised again. */
  raw?: RawJson;
  model: string;
  stream: boolean;
  /** The client asked for a usage chunk in the stream (OpenAI `stream_options.include_usage`; always for Anthropic). */
  includeUsage: boolean;
  choices: number;
  prompt(): ChatPrompt;
}

export interface EmbeddingsRequest {
  operation: 'embeddings';
  format: 'openai';
  headers?: ClientHeaders;
  body: JsonObject;
  raw?: RawJson;
  model: string;
  stream: false;
}

export type ProxyRequest = ChatRequest | EmbeddingsRequest;

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

/** One usage model across formats (api/v1alpha1/events.ts says what each field counts). */
export type Usage = TokenUsage;

/** Provider-neutral stream events. One upstream SSE event decodes into 0..n of these. */
export type StreamEvent =
  | { type: 'start'; id: string; model: string; usage?: Usage }
  | { type: 'text'; choice: number; text: string }
  | { type: 'tool_start'; choice: number; index: number; id: string; name: string; signature?: string }
  | { type: 'tool_args'; choice: number; index: number; args: string }
  | { type: 'finish'; choice: number; reason: FinishReason; stopSequence?: string | null }
  | { type: 'usage'; usage: Usage }
  /** Reasoning text as it streams (thinking, or a summary of it). */
  | { type: 'reasoning'; choice: number; text: string }
  /** A reasoning block ended; its opaque proof, if the provider gave one, travels here. */
  | { type: 'reasoning_end'; choice: number; origin: ReasoningOrigin; signature?: string; encrypted?: string; redacted?: string; id?: string };

/** One upstream SSE event: what it means, and its raw text for same-format passthrough. */
export interface Frame {
  events: StreamEvent[];
  /** The raw SSE event, forwarded byte-for-byte to a client of the same format when nothing was changed. */
  raw?: { event?: string | undefined; data: string };
  /**
   * Content-block bookkeeping for formats that number their blocks (Anthropic content blocks,
   * Responses output items), so an encoder can continue the numbering; `id` is the item's own id
   * where the format gives one (Responses).
   */
  block?: { op: 'start' | 'stop'; index: number; kind?: string; id?: string };
  /** The upstream's own number for this event (Responses `sequence_number`), so a continuation after a resume keeps counting from it. */
  seq?: number;
}

export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
  signature?: string;
}

export interface ChoiceResult {
  index: number;
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason | null;
  stopSequence?: string | null;
  /** Reasoning blocks, in order, before the answer. */
  reasoning?: Omit<ReasoningPart, 'type'>[];
}

/** A complete, non-streamed answer in neutral form. */
export interface ChatResult {
  id: string;
  model: string;
  choices: ChoiceResult[];
  usage?: Usage;
}

export function emptyChoice(index: number): ChoiceResult {
  return { index, text: '', toolCalls: [], finishReason: null };
}

/** Folds stream events into a complete result (async requests, events replay, verify). */
export class ResultBuilder {
  readonly result: ChatResult = { id: '', model: '', choices: [] };
  private readonly texts: string[][] = [];
  /** The reasoning text of the block still streaming, per choice. */
  private readonly thinking: string[][] = [];

  add(ev: StreamEvent): void {
    switch (ev.type) {
      case 'start':
        if (!this.result.id) this.result.id = ev.id;
        this.result.model = ev.model;
        if (ev.usage) this.result.usage = { ...ev.usage };
        return;
      case 'text':
        (this.texts[ev.choice] ??= []).push(ev.text);
        this.choice(ev.choice);
        return;
      case 'tool_start':
        this.choice(ev.choice).toolCalls[ev.index] = { id: ev.id, name: ev.name, arguments: '', ...(ev.signature ? { signature: ev.signature } : {}) };
        return;
      case 'reasoning':
        (this.thinking[ev.choice] ??= []).push(ev.text);
        this.choice(ev.choice);
        return;
      case 'reasoning_end': {
        const { type: _type, choice, ...proof } = ev;
        (this.choice(choice).reasoning ??= []).push({ text: (this.thinking[choice] ?? []).join(''), ...proof });
        this.thinking[choice] = [];
        return;
      }
      case 'tool_args': {
        const call = this.choice(ev.choice).toolCalls[ev.index];
        if (call) call.arguments += ev.args;
        return;
      }
      case 'finish': {
        const c = this.choice(ev.choice);
        c.finishReason = ev.reason;
        if (ev.stopSequence !== undefined) c.stopSequence = ev.stopSequence;
        return;
      }
      case 'usage':
        this.result.usage = mergeUsage(this.result.usage, ev.usage);
        return;
    }
  }

  private choice(i: number): ChoiceResult {
    return (this.result.choices[i] ??= emptyChoice(i));
  }

  build(): ChatResult {
    this.result.choices.forEach((c, i) => {
      c.text = (this.texts[i] ?? []).join('');
      c.toolCalls = c.toolCalls.filter(Boolean);
    });
    for (let i = 0; i < this.result.choices.length; i++) this.result.choices[i] ??= emptyChoice(i);
    return this.result;
  }
}

/**
 * Providers report usage in pieces (Anthropic: input at start, output at the end; OpenAI-compatible
 * servers with continuous usage: a running total on every chunk). Every report is cumulative, so
 * a later non-zero count wins and a detail a later report leaves out keeps its earlier value.
 */
export function mergeUsage(a: Usage | undefined, b: Usage): Usage {
  if (!a) return { ...b };
  const out: Usage = { inputTokens: b.inputTokens || a.inputTokens, outputTokens: b.outputTokens || a.outputTokens };
  const cacheRead = b.cacheReadTokens ?? a.cacheReadTokens;
  const cacheWrite = b.cacheWriteTokens ?? a.cacheWriteTokens;
  const reasoning = b.reasoningTokens ?? a.reasoningTokens;
  if (cacheRead !== undefined) out.cacheReadTokens = cacheRead;
  if (cacheWrite !== undefined) out.cacheWriteTokens = cacheWrite;
  if (reasoning !== undefined) out.reasoningTokens = reasoning;
  return out;
}

/** Streams and results carry tool arguments as JSON text; a provider that wants an object gets it parsed. */
export function parseArguments(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}
