// The vocabulary of async requests, shared by the service and the stores: a record, its status
// and the control messages replicas send each other about it. Types (and the set of final
// statuses) only, so that a module speaking about a record imports it from here and none has to
// import a store, or the store its implementation, to do so.
import type { ClientFormat } from '../chat/types.ts';

export type AsyncStatus = 'running' | 'awaiting_callback' | 'completed' | 'failed' | 'cancelled';
export const FINISHED: ReadonlySet<AsyncStatus> = new Set(['completed', 'failed', 'cancelled']);

export interface CallbackState {
  url: string;
  /** Completion waits for the app's backend to call /complete. */
  await: boolean;
  delivery: { status: 'pending' | 'delivered' | 'failed'; attempts: number; lastStatus?: number; lastError?: string; deliveredAt?: string };
  /** What the backend sent to /complete. */
  payload?: unknown;
}

export interface AsyncRecord {
  id: string;
  format: ClientFormat;
  operation: 'chat' | 'embeddings';
  model: string;
  status: AsyncStatus;
  createdAt: number;
  updatedAt: number;
  attempts: number;
  /** The answer in the endpoint's own (non-streamed) format. */
  result?: unknown;
  /** The error in the endpoint's own format. */
  error?: unknown;
  callback?: CallbackState;
  idempotencyKey?: string;
  bodyHash: string;
  /** The sidecar process running it (shared stores): where cancels and /complete calls are forwarded. */
  owner?: string;
  /** A Responses API background response: what its response objects repeat from the request. */
  responses?: ResponsesSettings;
}

/** What a background response's stream and polls need from its request, kept with its record. */
export interface ResponsesSettings {
  /** The request fields a response object repeats. */
  echo: Record<string, unknown>;
  /** The client asked for reasoning's encrypted content. */
  includeProof: boolean;
}

export type { ControlMessage } from '../events/control.ts';
