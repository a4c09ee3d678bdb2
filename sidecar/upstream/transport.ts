// The I/O boundary of the data path: send one upstream request, get status, headers and a body
// stream. Real providers go over HTTP (http.ts); the demo backend answers in-process (demo.ts).
import type { HeaderMap, UpstreamRequest } from '../providers/types.ts';

export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  body: AsyncIterable<Uint8Array>;
  /** Stop reading and release the connection (or discard the rest in the background). */
  discard(): void;
}

/**
 * An attempt's cancellation as a transport sees it: its own clock ran out, or the whole exchange
 * ended. Not an AbortSignal: an EventTarget and its listeners per attempt cost more than the rest
 * of the attempt's bookkeeping, and a transport needs one hook, not many listeners.
 */
export interface Cancellation {
  /** Set once the attempt is cancelled; the first reason stays. */
  readonly reason: Error | undefined;
  /**
   * The one hook called (once) with the reason when the attempt is cancelled; setting another
   * replaces it, `undefined` removes it. Whoever reads the body or waits on the request sets it.
   */
  onCancel(hook: ((reason: Error) => void) | undefined): void;
}

export interface SendOptions {
  cancel: Cancellation;
  connectTimeoutMs: number;
  /** The attempt's number within its request (1-based). Only the demo backend reads it, to script "fail the first attempt". */
  attempt?: number;
}

export interface Transport {
  send(req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse>;
}

/** A Cancellation that follows an AbortSignal, for a caller outside the stage chain that has one (token counting). */
export function cancellationOf(signal: AbortSignal): Cancellation {
  let listener: (() => void) | undefined;
  return {
    get reason() {
      return signal.aborted ? (signal.reason as Error) : undefined;
    },
    onCancel(hook) {
      if (listener) signal.removeEventListener('abort', listener);
      listener = hook && (() => hook(signal.reason as Error));
      if (listener) signal.addEventListener('abort', listener, { once: true });
    },
  };
}

/** Waits `ms` unless the attempt is cancelled first (then rejects with its reason); for in-process transports. */
export function pause(ms: number, cancel: Cancellation): Promise<void> {
  if (cancel.reason !== undefined) return Promise.reject(cancel.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cancel.onCancel(undefined);
      resolve();
    }, ms);
    cancel.onCancel((reason) => {
      clearTimeout(timer);
      reject(reason);
    });
  });
}
