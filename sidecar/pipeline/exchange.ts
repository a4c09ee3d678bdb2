// What flows down the stage chain. A request starts as a RouteExchange (it knows its route, not yet
// which backend); `fallback` turns it into a TargetExchange per target it tries. `retry`, `circuit`
// and `attempt` accept only a TargetExchange, so a chain that reaches them before a target is
// chosen does not compile (see chain.ts). Stages never mutate an exchange to pass data on: each
// hands the next one a new object with what it adds.
import type { ChatResult, Frame, JsonObject, ProxyRequest } from '../chat/types.ts';
import type { AnswerLimits, RuntimeRoute, RuntimeTarget } from '../config/runtime.ts';
import type { Lifecycle } from '../events/lifecycle.ts';
import type { ExchangeScope } from './scope.ts';
import type { Resilience } from '../stages/state.ts';
import type { Transport } from '../upstream/transport.ts';

import type { AttemptMode } from '../../api/v1alpha1/events.ts';

export type { AttemptMode };

/** Set when a started stream failed and the chain below `resume` runs again to continue it. */
export interface ResumePoint {
  /** Text of choice 0 the client already has. */
  readonly delivered: string;
  /** Backends that refused an assistant prefix during this request: they get verify instead (shared by every continuation). */
  readonly prefillRefused: Set<string>;
}

export interface RouteExchange {
  readonly id: string;
  readonly request: ProxyRequest;
  readonly route: RuntimeRoute;
  readonly lifecycle: Lifecycle;
  /**
   * Aborted when the client goes away or the total deadline passes (its reason says which); it
   * also runs the attempt clocks and backoff sleeps, all on one timer. Shared by every copy of the
   * exchange that stages hand on.
   */
  readonly scope: ExchangeScope;
  /** Ends the exchange (client gone, deadline passed): aborts everything upstream with this reason (the scope's abort). */
  readonly abort: (reason: Error) => void;
  /** Epoch ms by which the whole request must be done (set by `deadline`). */
  readonly deadline: number;
  /** Present only on a continuation after a mid-stream failure (set by `resume`). */
  readonly resume?: ResumePoint;
  readonly resilience: Resilience;
  readonly transport: (target: RuntimeTarget) => Transport;
  readonly secrets: readonly string[];
  /** How much of an answer this request may hold (from the config it started with). */
  readonly limits: AnswerLimits;
}

export interface TargetExchange extends RouteExchange {
  readonly target: RuntimeTarget;
}

interface Answered {
  target: RuntimeTarget;
  /** The attempt number (1-based, across the whole request) that produced this answer. */
  attempt: number;
  /** The upstream's request-id headers, handed back to the client under their own names. */
  upstreamHeaders?: Record<string, string>;
}

export interface StreamAnswer extends Answered {
  kind: 'stream';
  mode: AttemptMode;
  /** Frames from the first content frame on (earlier structural frames included, in order). */
  frames: AsyncIterable<Frame>;
  /** Where prefill was used: the text actually sent as the assistant prefix. */
  sentPrefill?: string;
}

export interface JsonAnswer extends Answered {
  kind: 'json';
  /** The upstream's body as text (what the parsers read). */
  raw: string;
  /** The same body as the bytes it arrived in, forwarded as they are to a client of the same format. */
  bytes?: Uint8Array;
  result?: ChatResult;
  embeddings?: JsonObject;
}

/**
 * A same-format complete answer past the inspect bound (attempt.ts: INSPECT_BYTES): its bytes go
 * to the client as they arrive, never held whole, and are not parsed (no content events or usage).
 */
export interface BytesAnswer extends Answered {
  kind: 'bytes';
  /** What was read before the bound was passed. */
  head: Buffer;
  /** The rest, read on demand; ending or abandoning it releases the upstream. */
  rest: AsyncIterable<Uint8Array>;
  /** The upstream's content-length, when it sent one. */
  length?: number;
}

export type Answer = StreamAnswer | JsonAnswer | BytesAnswer;
