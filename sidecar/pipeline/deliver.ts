// Runs an exchange to its one terminal event for a client connection. The pipeline decides what
// goes out and when (tally, events, the terminal event); the sink, implemented by the HTTP server,
// only moves bytes.
import { performance } from 'node:perf_hooks';
import { asAirouteError, type AirouteError } from '../errors.ts';
import { speaksNatively } from '../providers/types.ts';
import { cancelled, type Sidecar } from '../sidecar.ts';
import { encoderFor, resultBody } from './answer-body.ts';
import type { Answer, BytesAnswer, RouteExchange, StreamAnswer } from './exchange.ts';
import { INSPECT_BYTES } from '../stages/attempt.ts';
import { finish } from './finish.ts';
import { handle } from './pipeline.ts';
import { Tally } from './tally.ts';

export type ResponseHeaders = Record<string, string>;

export interface ClientSink {
  /** Nothing was sent yet and the request failed: the error in the client's shape, with its status. */
  fail(err: AirouteError, headers: ResponseHeaders): void;
  /** A complete answer, already in the client's format (the upstream's own bytes, or text encoded here). */
  json(body: string | Uint8Array, headers: ResponseHeaders): void;
  /** A stream starts. */
  open(headers: ResponseHeaders): void;
  /** Sends a chunk; the promise (if any) resolves when the client can take more. `first` marks the first chunk, which must not wait in a buffer. */
  write(chunk: string | Uint8Array, first: boolean): Promise<void> | undefined;
  /** The stream's last bytes (a terminator, or an in-stream error). */
  end(tail: string): void;
  /** A started answer cannot be finished and has no in-band error (a JSON body passing through): cut it, so the client sees it truncated. */
  abort?(): void;
  /** The client is gone. */
  readonly closed: boolean;
}

/** The reason an exchange ended early wins over the error it caused downstream. */
export function failureOf(x: RouteExchange, e: unknown): AirouteError {
  return x.scope.aborted ? asAirouteError(x.scope.reason) : asAirouteError(e);
}

export async function deliver(sc: Sidecar, x: RouteExchange, sink: ClientSink): Promise<void> {
  const t0 = performance.now();
  const tally = new Tally(x.lifecycle);
  let answer: Answer;
  try {
    answer = await handle(x);
  } catch (e) {
    const err = failureOf(x, e);
    sink.fail(err, { ...err.details.responseHeaders, 'x-airoute-attempts': String(x.lifecycle.attempt) });
    return finish(sc, x, tally, t0, err);
  }
  tally.see(answer);
  const headers = { ...answer.upstreamHeaders, 'x-airoute-attempts': String(answer.attempt), 'x-airoute-backend': answer.target.backend.name };
  if (answer.kind === 'json') {
    // Gone while the answer was read: it never reached the client.
    if (sink.closed) return finish(sc, x, tally, t0, failureOf(x, cancelled('client')));
    const body = resultBody(x.request, answer, x.id);
    tally.complete(answer);
    sink.json(body, headers);
    return finish(sc, x, tally, t0);
  }
  if (answer.kind === 'bytes') {
    await passBytes(x, sink, answer, tally, headers);
    return finish(sc, x, tally, t0, tally.error);
  }
  await stream(x, sink, answer, tally, headers);
  tally.see(answer); // after a resume, the backend that finished the answer
  finish(sc, x, tally, t0, tally.error);
}

/** A same-format answer past the inspect bound: its bytes go out as they arrive, with the client's backpressure. */
async function passBytes(x: RouteExchange, sink: ClientSink, answer: BytesAnswer, tally: Tally, headers: ResponseHeaders): Promise<void> {
  sink.open({ 'content-type': 'application/json', ...(answer.length !== undefined ? { 'content-length': String(answer.length) } : {}), ...headers });
  let bytes = 0;
  const send = async (chunk: Uint8Array) => {
    bytes += chunk.byteLength;
    const waiting = sink.write(chunk, tally.sent());
    if (waiting) await waiting;
  };
  try {
    await send(answer.head);
    if (!sink.closed)
      for await (const chunk of answer.rest) {
        await send(chunk);
        if (sink.closed) break;
      }
    if (sink.closed) tally.error = failureOf(x, cancelled('client'));
    else sink.end('');
  } catch (e) {
    tally.error = failureOf(x, e);
    if (!sink.closed) sink.abort?.();
  }
  tally.uninspected = { bytes, limit: Math.min(INSPECT_BYTES, x.limits.maxResponseBytes) };
}

async function stream(x: RouteExchange, sink: ClientSink, answer: StreamAnswer, tally: Tally, headers: ResponseHeaders): Promise<void> {
  const encoder = encoderFor(x.request, x.id);
  const sameFormat = speaksNatively(answer.target.backend.caps, x.request.format);
  sink.open({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  try {
    for await (const frame of answer.frames) {
      tally.frame(frame);
      const out = sameFormat && frame.raw ? encoder.passthrough(frame) : encoder.encode(frame.events);
      if (!out) continue;
      const waiting = sink.write(out, tally.sent());
      if (waiting) await waiting;
      if (sink.closed) break;
    }
    // A client that left (often while the writer waited on its backpressure) got a truncated
    // answer: that is a cancellation, never a completion.
    if (sink.closed) tally.error = failureOf(x, cancelled('client'));
    else sink.end(encoder.end());
  } catch (e) {
    const err = failureOf(x, e);
    tally.error = err;
    if (!sink.closed) sink.end(encoder.error(err));
  }
}
