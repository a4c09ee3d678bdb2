// The data path as small composable stages (after linkerd2-proxy's stack): each stage owns one
// policy, takes the next handler, and says in its doc comment whether it may act after the first
// byte has reached the client.
import type { ChatResult, Frame, JsonObject, ProxyRequest } from '../chat/types.ts';
import type { RuntimeRoute, RuntimeTarget } from '../config/runtime.ts';
import type { Lifecycle } from '../events/lifecycle.ts';
import type { Resilience } from './state.ts';
import type { Transport } from '../upstream/transport.ts';

/** How an attempt relates to what the client already has. */
export type AttemptMode = 'fresh' | 'prefill' | 'verify';

/** Set on the exchange when a started stream failed and the chain runs again to continue it. */
export interface ResumePoint {
  /** Text of choice 0 the client already has. */
  delivered: string;
  /** Backends that refused an assistant prefix during this request: they get verify instead. */
  prefillRefused: Set<string>;
}

export interface Exchange {
  readonly id: string;
  readonly request: ProxyRequest;
  readonly route: RuntimeRoute;
  readonly lifecycle: Lifecycle;
  /** Aborted when the client goes away or the total deadline passes; its reason says which. */
  readonly signal: AbortSignal;
  /** Ends the exchange (client gone, deadline passed): aborts everything upstream with this reason. */
  readonly abort: (reason: Error) => void;
  /** Epoch ms by which the whole request must be done. */
  deadline: number;
  target?: RuntimeTarget;
  resume?: ResumePoint;
  readonly resilience: Resilience;
  readonly transport: (target: RuntimeTarget) => Transport;
  readonly secrets: readonly string[];
  /** Called once when the request is over, whatever the outcome. */
  readonly cleanup: (() => void)[];
}

interface Answered {
  target: RuntimeTarget;
  /** The attempt number (1-based, across the whole request) that produced this answer. */
  attempt: number;
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
  /** The upstream's body, forwarded as is to a client of the same format. */
  raw: string;
  result?: ChatResult;
  embeddings?: JsonObject;
}

export type Answer = StreamAnswer | JsonAnswer;
export type Handler = (x: Exchange) => Promise<Answer>;
export type Stage = (next: Handler) => Handler;

export const compose = (stages: readonly Stage[], end: Handler): Handler => stages.reduceRight<Handler>((next, stage) => stage(next), end);
