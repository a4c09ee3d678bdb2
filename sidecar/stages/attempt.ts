// The end of the stage chain: one attempt against one backend. It owns the attempt's clocks
// (no response, first token, idle between chunks), decodes the upstream's SSE with a maintained
// parser, and returns once the first content frame has arrived: until then nothing has reached
// the client, so every failure up to that point is a clean pre-first-byte failure the outer
// stages may retry or fall back from.
import type { EmbeddingsRequest, Frame } from '../chat/types.ts';
import type { RuntimeBackend } from '../config/runtime.ts';
import { AirouteError, asAirouteError } from '../errors.ts';
import { redactError } from '../providers/classify.ts';
import { echoedHeaders } from '../providers/headers.ts';
import { speaksNatively, type UpstreamRequest } from '../providers/types.ts';
import { readHead, type BodyHead } from '../upstream/body-head.ts';
import { decodeFrames, readText } from '../upstream/frames.ts';
import type { UpstreamResponse } from '../upstream/transport.ts';
import { AttemptClock } from './attempt-clock.ts';
import type { Handler } from '../pipeline/chain.ts';
import type { Answer, AttemptMode, TargetExchange } from '../pipeline/exchange.ts';

/** Error bodies are read whole; past this they are cut. */
const MAX_ERROR_BODY = 64 * 1024;
/**
 * A same-format non-streamed answer up to this size is held and parsed (content events, usage in
 * the request's events and metrics); a larger one streams through to the client unparsed, and its
 * request.completed event says so (`uninspected`).
 */
export const INSPECT_BYTES = 1024 * 1024;

const CONNECT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function errnoOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  return String(e?.code ?? e?.cause?.code ?? '');
}

function hasContent(frame: Frame): boolean {
  for (const ev of frame.events) if (ev.type !== 'start' && ev.type !== 'usage') return true;
  return false;
}

export const attempt: Handler<TargetExchange> = async (x): Promise<Answer> => {
  const target = x.target;
  const backend = target.backend;
  const health = x.resilience.attempt(target);
  const n = ++x.lifecycle.attempt;
  const mode: AttemptMode = !x.resume ? 'fresh' : target.resume === 'prefill' && !x.resume.prefillRefused.has(backend.name) ? 'prefill' : 'verify';
  // Providers refuse a prefix that ends in whitespace (Anthropic says so outright); the model
  // regenerates it, and the resume stage drops what the client already has.
  // Stryker disable next-line OptionalChaining: mode is 'prefill' only when x.resume is set
  const sentPrefill = mode === 'prefill' ? x.resume?.delivered.trimEnd() : undefined;
  const stream = x.request.stream;
  const started = Date.now();
  x.lifecycle.emit('attempt.started', { backend: backend.name, model: target.model, mode });

  const fail = (err: AirouteError, phase: NonNullable<AirouteError['details']['phase']>): AirouteError => {
    // The one redaction boundary: whatever the upstream put in its failure (error bodies, in-stream
    // errors, every field) is scrubbed here, before any event, client, poll, webhook or log sees it.
    const e = redactError(err.with({ backend: backend.name, phase: err.details.phase ?? phase }), x.secrets);
    health.failed(e);
    x.lifecycle.emit('attempt.failed', {
      backend: backend.name,
      phase: e.details.phase,
      code: e.code,
      status: e.status,
      retriable: e.retriable,
      message: e.message,
      elapsedMs: Date.now() - started,
    });
    return e;
  };

  let req: UpstreamRequest;
  try {
    req =
      x.request.operation === 'chat'
        ? backend.adapter.chatRequest(x.request, backend, target.model, { stream, prefill: sentPrefill })
        : embeddingsRequest(backend, x.request, target.model);
  } catch (err) {
    throw fail(asAirouteError(err).with({ retriable: false, incompatible: true }), 'request');
  }

  const tm = x.route.timeouts;
  const clock = new AttemptClock(x.scope, backend.name, tm);
  /** What went wrong, whether our own clock fired, the client left, or the network failed. */
  const explain = (err: unknown, phase: 'connect' | 'headers' | 'first_token' | 'stream'): AirouteError => {
    if (err instanceof AirouteError) return err;
    if (clock.reason instanceof AirouteError) return clock.reason;
    const code = errnoOf(err);
    if (phase === 'connect' && CONNECT_CODES.has(code))
      return new AirouteError('upstream_connect_failed', 502, `cannot connect to backend "${backend.name}" (${code})`, {
        retriable: true,
        fallback: 'retries_exhausted',
        phase: 'connect',
        cause: err,
      });
    return new AirouteError('upstream_reset', 502, `backend "${backend.name}" closed the connection ${phase === 'stream' ? 'mid-stream' : 'before answering'}${code ? ` (${code})` : ''}`, {
      retriable: true,
      fallback: 'retries_exhausted',
      phase: phase === 'connect' ? 'headers' : phase,
      cause: err,
    });
  };

  if (stream) clock.arm('no_response', tm.firstTokenMs);
  let res: UpstreamResponse;
  try {
    res = await x.transport(target).send(req, { cancel: clock, connectTimeoutMs: tm.connectMs, attempt: n });
  } catch (err) {
    clock.release();
    throw fail(explain(err, 'connect'), 'connect');
  }
  health.responded();

  const upstreamHeaders = echoedHeaders(res.headers, backend.adapter.requestIdHeaders);
  if (res.status >= 400) {
    let text = '';
    try {
      clock.progress();
      text = await readText(res.body, MAX_ERROR_BODY, clock.progress);
    } catch {
      // the status says enough; a body we could not read is reported as empty
    } finally {
      clock.release();
      res.discard();
    }
    let err = backend.adapter.error(res.status, text, res.headers, x.secrets);
    if (mode === 'prefill' && res.status === 400 && err.code === 'invalid_request') {
      // The backend refuses an assistant prefix (some newer models do). Never surface that 400
      // in place of the original failure: restart this backend cleanly in verify mode instead.
      // Stryker disable next-line OptionalChaining: mode is 'prefill' only when x.resume is set
      x.resume?.prefillRefused.add(backend.name);
      err = new AirouteError('prefill_rejected', 400, `backend "${backend.name}" refused the assistant prefix: ${err.message}`, {
        retriable: true,
        retryAfterMs: 0,
        fallback: 'prefill_rejected',
      });
    }
    throw fail(err.with({ responseHeaders: upstreamHeaders }), 'headers');
  }

  if (!stream) {
    // A client of the upstream's own format gets its bytes as they arrive: only a body within the
    // inspect bound is held and parsed (content events, usage). Another format must be translated,
    // so the body is held whole, up to limits.maxResponseBytes, and refused past it.
    // (An embeddings request is always in OpenAI's format.)
    const sameFormat = speaksNatively(backend.caps, x.request.format);
    const hold = sameFormat ? Math.min(INSPECT_BYTES, x.limits.maxResponseBytes) : x.limits.maxResponseBytes;
    let body: BodyHead;
    try {
      clock.progress();
      body = await readHead(res.body, hold, clock.progress);
    } catch (err) {
      clock.release();
      res.discard();
      throw fail(explain(err, 'first_token'), 'first_token');
    }
    if (body.complete) {
      clock.release();
      try {
        const text = body.head.toString('utf8');
        const answer: Answer =
          x.request.operation === 'chat'
            ? { kind: 'json', target, attempt: n, upstreamHeaders, raw: text, bytes: body.head, result: backend.adapter.chatResult(text, x.request) }
            : { kind: 'json', target, attempt: n, upstreamHeaders, raw: text, bytes: body.head, embeddings: backend.adapter.embeddingsResult!(text) };
        if (answer.result && !answer.result.model) answer.result.model = target.model;
        health.answered();
        return answer;
      } catch (err) {
        res.discard();
        throw fail(explain(err, 'first_token'), 'first_token');
      }
    }
    if (!sameFormat) {
      clock.release();
      res.discard();
      const tooLarge = responseTooLarge(backend.name, x.limits.maxResponseBytes, `to translate it from ${backend.caps.format} to ${x.request.format}`);
      // Stryker disable next-line StringLiteral: responseTooLarge sets its own phase (first_token)
      throw fail(tooLarge, 'first_token');
    }
    health.answered();
    // As for streams below: the idle clock runs only while the sidecar waits for the upstream.
    clock.pause();
    const unread = body.rest;
    async function* rest(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) {
          clock.progress();
          const next = await unread.next();
          clock.pause();
          if (next.done) return;
          yield next.value;
        }
      } catch (err) {
        throw fail(explain(err, 'stream'), 'stream');
      } finally {
        clock.release();
        res.discard();
      }
    }
    return { kind: 'bytes', target, attempt: n, upstreamHeaders, head: body.head, rest: rest(), ...contentLength(res.headers) };
  }

  // Streaming: decode until the first content frame, all under the first-token clock, which
  // started with the attempt (headers arriving do not restart it).
  clock.arm('first_token', Math.max(0, tm.firstTokenMs - (Date.now() - started)));
  const decoder = backend.adapter.streamDecoder(x.request as Parameters<typeof backend.adapter.streamDecoder>[0]);
  // Until the first content, bytes (SSE comments, pings, role-only chunks) do not restart the
  // first-token clock: an upstream sending keep-alives while it never answers is still silent.
  // From the first content on, every chunk restarts the idle clock.
  let contentSeen = false;
  const frames = decodeFrames(res.body, decoder, () => {
    if (contentSeen) clock.progress();
  });
  const buffered: Frame[] = [];
  let ended = false;
  try {
    for (;;) {
      const next = await frames.next();
      if (next.done) {
        ended = true;
        break;
      }
      buffered.push(next.value);
      if (hasContent(next.value)) break;
    }
    if (ended && !decoder.finished) throw truncated(backend.name, 'first_token');
    contentSeen = true;
  } catch (err) {
    clock.release();
    res.discard();
    throw fail(explain(err, 'first_token'), 'first_token');
  }
  // The backend answered with content: that is its health signal. Recording it now rather than
  // when the stream ends keeps many concurrent long streams from looking like a run of failures
  // (failures count at once; successes would only count minutes later). A later mid-stream
  // failure still counts against it.
  health.answered();
  // From here the idle clock runs only while the sidecar waits for the upstream: between frames
  // handed on, the client's backpressure may hold the consumer for any time, during which the
  // upstream is stalled by us, not stalled itself. Blaming it would count against its circuit
  // and resume (re-sending everything delivered) for a slow reader. The clock restarts on each read.
  clock.pause();

  async function* rest(): AsyncGenerator<Frame> {
    try {
      for (const f of buffered) yield f;
      buffered.length = 0;
      // (After the body ended, the first read below reports the end at once.)
      for (;;) {
        let next: IteratorResult<Frame>;
        try {
          clock.progress();
          next = await frames.next();
          clock.pause();
        } catch (err) {
          // A stall after every choice finished lost only the terminator: the answer is complete.
          if (decoder.finished && clock.reason instanceof AirouteError && clock.reason.code === 'upstream_idle_timeout') break;
          throw err;
        }
        if (next.done) {
          if (!decoder.finished) throw truncated(backend.name, 'stream');
          break;
        }
        // decodeFrames ends the iteration itself once the stream is complete (it may decode
        // ahead of what has been yielded, so the decoder's flags are not checked here).
        yield next.value;
      }
    } catch (err) {
      throw fail(explain(err, 'stream'), 'stream');
    } finally {
      clock.release();
      // Complete (or abandoned by the client): stop reading, keep the connection if it is reusable.
      res.discard();
    }
  }
  return { kind: 'stream', target, attempt: n, upstreamHeaders, mode, frames: rest(), ...(sentPrefill !== undefined ? { sentPrefill } : {}) };
};

function embeddingsRequest(backend: RuntimeBackend, req: EmbeddingsRequest, model: string): UpstreamRequest {
  if (!backend.adapter.embeddingsRequest || !backend.caps.embeddings)
    throw new AirouteError('unsupported_parameter', 400, `backend "${backend.name}" (${backend.type}) does not serve embeddings`);
  return backend.adapter.embeddingsRequest(req, backend, model);
}

function contentLength(headers: UpstreamResponse['headers']): { length?: number } {
  const v = headers['content-length'];
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isSafeInteger(n) && n >= 0 ? { length: n } : {};
}

export function responseTooLarge(backend: string, limit: number, why: string): AirouteError {
  return new AirouteError('response_too_large', 502, `backend "${backend}" answered more than limits.maxResponseBytes (${limit} bytes), which the sidecar would have to hold whole ${why}`, {
    phase: 'first_token',
  });
}

function truncated(backend: string, phase: 'first_token' | 'stream'): AirouteError {
  return new AirouteError('upstream_truncated', 502, `backend "${backend}" ended the stream before it finished`, {
    retriable: true,
    fallback: 'retries_exhausted',
    phase,
  });
}
