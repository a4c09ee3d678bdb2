// The request lifecycle as typed events: the one schema the sidecar emits, the journal replays,
// and client/ folds into UI state. Each event type has its own payload, so an emit with a wrong
// field does not compile, and a consumer that narrows on `type` gets the payload's fields typed.

export const EVENT_TYPES = [
  'request.accepted',
  'attempt.started',
  'content.delta',
  'checkpoint',
  'attempt.failed',
  'retry.scheduled',
  'fallback',
  'stream.resumed',
  'request.completed',
  'request.failed',
  'request.cancelled',
] as const;
export type LifecycleEventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_EVENTS: ReadonlySet<LifecycleEventType> = new Set(['request.completed', 'request.failed', 'request.cancelled']);

/** How an attempt relates to what the client already has. */
export type AttemptMode = 'fresh' | 'prefill' | 'verify';

/** Token counts in one model across wire formats: input counts every prompt token, cached or not. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** Of inputTokens, read from the provider's prompt cache. */
  cacheReadTokens?: number;
  /** Of inputTokens, written to the provider's prompt cache. */
  cacheWriteTokens?: number;
  /** Of outputTokens, spent on reasoning the client does not see as text. */
  reasoningTokens?: number;
}

/** The end of a reasoning block: where it came from, and what that provider needs to see it again. */
export interface ReasoningEnd {
  /** The wire format whose provider produced it (`responses` for OpenAI's Responses API). */
  origin: string;
  id?: string;
  signature?: string;
  encrypted?: string;
  redacted?: string;
}

export interface EventData {
  'request.accepted': { operation: 'chat' | 'embeddings'; format: string; model: string; stream: boolean };
  'attempt.started': { backend: string; model: string; mode: AttemptMode };
  /** Exactly what the client received, in order: text, a piece of a tool call, or of the model's reasoning. */
  'content.delta': {
    choice: number;
    text?: string;
    toolCall?: { index: number; id?: string; name?: string; arguments?: string };
    /** Reasoning text as it streamed (thinking, or a summary of it); `end` closes a block, with the provider's opaque proof if it gave one. */
    reasoning?: { text?: string; end?: ReasoningEnd };
  };
  /** What had been delivered when a started stream failed. */
  checkpoint: {
    deliveredChars: number;
    toolCalls: number;
    choices: number;
    attempt: number;
    backend: string;
    strategy: string;
    /** Why this request cannot be resumed any more (its delivered text passed limits.maxCheckpointChars); emitted when that happens. */
    resumeDisabled?: string;
  };
  'attempt.failed': { backend: string; phase?: string | undefined; code: string; status: number; retriable: boolean; message: string; elapsedMs?: number };
  'retry.scheduled': { backend: string; delayMs: number; reason: string; retryAfterMs?: number };
  /** `circuit` says which breaker refused when `reason` is `circuit_open`: the deployment's (backend x model) or the host's. */
  fallback: { from: string; to: string; fromModel: string; toModel: string; reason: string; circuit?: 'deployment' | 'host' };
  'stream.resumed': { backend: string; model: string; mode: AttemptMode; fromChars: number };
  'request.completed': {
    backend?: string | undefined;
    model?: string | undefined;
    finishReasons: (string | null)[];
    usage?: TokenUsage;
    attempts: number;
    durationMs: number;
    /** What the app's backend sent to /complete (backend-in-the-loop requests). */
    callback?: unknown;
    /**
     * The answer streamed through unparsed: it was larger than the inspect bound (1 MiB), so no
     * content events, finish reasons or usage were taken from it. `bytes` is its size.
     */
    uninspected?: { bytes: number; limit: number };
  };
  'request.failed': { error: { code: string; status: number; message: string; [detail: string]: unknown }; attempts: number };
  'request.cancelled': { reason: string; attempts: number };
}

interface EventEnvelope<T extends LifecycleEventType> {
  requestId: string;
  /** Gapless from 1 per request. */
  seq: number;
  /** Epoch milliseconds. */
  ts: number;
  /** The attempt this event belongs to (0 before the first attempt). */
  attempt: number;
  type: T;
  data: EventData[T];
}

export type LifecycleEvent = { [T in LifecycleEventType]: EventEnvelope<T> }[LifecycleEventType];
export type LifecycleEventOf<T extends LifecycleEventType> = EventEnvelope<T>;
