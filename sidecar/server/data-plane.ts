// The data port: provider-shaped endpoints on loopback. Parses as little as the request needs,
// runs the stage chain, and writes the answer in the client's own format, streaming frames as
// they come (raw passthrough when client and backend speak the same format).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ChatResult, ClientFormat, FinishReason, ProxyRequest, Usage } from '../chat/types.ts';
import { ResultBuilder, mergeUsage } from '../chat/types.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import { decodeEmbeddingsRequest } from '../endpoints/embeddings.ts';
import { getModel, listModels, modelNotFound } from '../endpoints/models.ts';
import { AirouteError, asAirouteError } from '../errors.ts';
import type { RequestRecord, Sidecar } from '../sidecar.ts';
import { cancelled } from '../sidecar.ts';
import type { Answer, Exchange, JsonAnswer, StreamAnswer } from '../stages/types.ts';
import { CLIENT_CODECS } from '../wire/clients.ts';
import type { StreamEncoder } from '../wire/types.ts';
import { REQUEST_ID_HEADER, drained, parseJsonObject, readBody, sendError, sendJson } from './http.ts';

export type AsyncApi = (req: IncomingMessage, res: ServerResponse, id: string, path: string) => Promise<boolean>;

export interface Submission {
  id: string;
  request: ProxyRequest;
  config: RuntimeConfig;
  req: IncomingMessage;
  res: ServerResponse;
}

export interface DataPlaneOptions {
  /** Handles `/airoute/v1/requests/...`; answers true if it took the request. */
  asyncApi?: AsyncApi;
  /** Takes a `Prefer: respond-async` submission; answers true if it took it. */
  submitAsync?: (s: Submission) => Promise<boolean>;
  /** Serves the demo page under /airoute/demo (`--demo-ui`). */
  demoUi?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;
}

export function dataPlane(sc: Sidecar, opts: DataPlaneOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const id = sc.newRequestId();
    res.setHeader(REQUEST_ID_HEADER, id);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const anthropic = path === '/v1/messages' || req.headers['anthropic-version'] !== undefined;
    const format: ClientFormat = anthropic ? 'anthropic' : 'openai';
    route(sc, opts, req, res, id, path, format).catch((err: unknown) => {
      const e = asAirouteError(err);
      if (!res.headersSent) sendError(res, e, format);
      else res.destroy();
    });
  };
}

async function route(sc: Sidecar, opts: DataPlaneOptions, req: IncomingMessage, res: ServerResponse, id: string, path: string, format: ClientFormat): Promise<void> {
  if (req.method === 'POST') {
    if (path === '/v1/chat/completions') return proxy(sc, opts, req, res, id, 'openai');
    if (path === '/v1/messages') return proxy(sc, opts, req, res, id, 'anthropic');
    if (path === '/v1/embeddings') return proxy(sc, opts, req, res, id, 'embeddings');
  }
  if (path.startsWith('/airoute/v1/') && opts.asyncApi && (await opts.asyncApi(req, res, id, path))) return;
  if (path.startsWith('/airoute/demo') && opts.demoUi && (await opts.demoUi(req, res, path))) return;
  if (req.method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
    const config = ready(sc);
    const anthropic = format === 'anthropic';
    const body = path === '/v1/models' ? listModels(config, anthropic) : getModel(config, decodeURIComponent(path.slice('/v1/models/'.length)), anthropic);
    return sendJson(res, 200, body);
  }
  const known = ['/v1/chat/completions', '/v1/messages', '/v1/embeddings'].includes(path);
  throw known
    ? new AirouteError('method_not_allowed', 405, `${req.method} is not allowed on ${path}`)
    : new AirouteError('not_found', 404, `no such endpoint: ${req.method} ${path}`);
}

function ready(sc: Sidecar): RuntimeConfig {
  const config = sc.config;
  if (!config) throw new AirouteError('not_ready', 503, 'the sidecar has no configuration yet');
  return config;
}

async function proxy(sc: Sidecar, opts: DataPlaneOptions, req: IncomingMessage, res: ServerResponse, id: string, kind: 'openai' | 'anthropic' | 'embeddings'): Promise<void> {
  const config = ready(sc);
  const body = parseJsonObject(await readBody(req, config.maxBodyBytes));
  const request: ProxyRequest = kind === 'embeddings' ? decodeEmbeddingsRequest(body) : CLIENT_CODECS[kind].decodeRequest(body);
  const route = config.routes.get(request.model);
  if (!route) throw modelNotFound(request.model);
  if (opts.submitAsync && /\brespond-async\b/i.test(String(req.headers.prefer ?? '')) && (await opts.submitAsync({ id, request, config, req, res }))) return;
  const x = sc.open(id, request, route, config);
  res.on('close', () => {
    if (!res.writableFinished) x.abort(cancelled());
  });
  await serve(sc, x, res);
}

/** Folds what the client was sent into the request's record and terminal event. */
export class Tally {
  usage: Usage | undefined;
  readonly finish: (FinishReason | null)[] = [];
  chunks = 0;
  firstByteAt: number | undefined;
  backend: string | undefined;
  model: string | undefined;
  provider: string | undefined;
  /** Set when a started stream ended in an error. */
  error: AirouteError | undefined;

  /** A complete (non-streamed) answer: its text is one delta per choice, so events concatenate to the result. */
  complete(x: Exchange, answer: JsonAnswer): void {
    this.firstByteAt = performance.now();
    if (!answer.result) return;
    for (const c of answer.result.choices) {
      this.finish[c.index] = c.finishReason;
      if (c.text) x.lifecycle.emit('content.delta', { choice: c.index, text: c.text });
    }
    this.usage = answer.result.usage;
  }

  see(answer: Answer): void {
    this.backend = answer.target.backend.name;
    this.model = answer.target.model;
    this.provider = answer.target.backend.type;
  }
}

export function encoderFor(request: ProxyRequest, id: string): StreamEncoder {
  return CLIENT_CODECS[request.format].streamEncoder(request, id);
}

function encodeResult(request: ProxyRequest, result: ChatResult, id: string): unknown {
  return CLIENT_CODECS[request.format].encodeResult(result, id);
}

/** The upstream's own bytes, when they already are in the client's format (embeddings are OpenAI-shaped). */
function passthrough(request: ProxyRequest, answer: JsonAnswer): string | undefined {
  const format = answer.target.backend.caps.format;
  return format === (answer.embeddings ? 'openai' : request.format) ? answer.raw : undefined;
}

/** A complete answer in the client's format, as bytes (the upstream's own when formats match). */
function resultBody(request: ProxyRequest, answer: JsonAnswer, id: string): string {
  return passthrough(request, answer) ?? JSON.stringify(answer.embeddings ?? encodeResult(request, answer.result as ChatResult, id));
}

/** The same, as a value (async results): parsed only when it is the upstream's bytes, never serialised and re-read. */
function resultValue(request: ProxyRequest, answer: JsonAnswer, id: string): unknown {
  const raw = passthrough(request, answer);
  return answer.embeddings ?? (raw !== undefined ? JSON.parse(raw) : encodeResult(request, answer.result as ChatResult, id));
}

/** Runs an exchange to its end, writing to an HTTP response. */
async function serve(sc: Sidecar, x: Exchange, res: ServerResponse): Promise<void> {
  const t0 = performance.now();
  const tally = new Tally();
  const format = x.request.format;
  let answer: Answer;
  try {
    answer = await sc.handle(x);
  } catch (e) {
    const err = x.signal.aborted ? asAirouteError(x.signal.reason) : asAirouteError(e);
    sendError(res, err, format, { 'x-airoute-attempts': x.lifecycle.attempt });
    return end(sc, x, tally, t0, err);
  }
  tally.see(answer);
  const headers = {
    'x-airoute-attempts': String(answer.attempt),
    'x-airoute-backend': answer.target.backend.name,
  };
  if (answer.kind === 'json') {
    const text = resultBody(x.request, answer, x.id);
    tally.complete(x, answer);
    sendJson(res, 200, text, headers);
    return end(sc, x, tally, t0);
  }
  await writeStream(x, res, answer, tally, headers);
  tally.see(answer); // after a resume, the backend that finished the answer
  return end(sc, x, tally, t0, tally.error);
}

async function writeStream(x: Exchange, res: ServerResponse, answer: StreamAnswer, tally: Tally, headers: Record<string, string>): Promise<void> {
  const encoder = encoderFor(x.request, x.id);
  const sameFormat = answer.target.backend.caps.format === x.request.format;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
  try {
    for await (const frame of answer.frames) {
      for (const ev of frame.events) {
        if (ev.type === 'usage') tally.usage = mergeUsage(tally.usage, ev.usage);
        else if (ev.type === 'finish') tally.finish[ev.choice] = ev.reason;
        else if (ev.type === 'start' && ev.usage) tally.usage = mergeUsage(tally.usage, ev.usage);
      }
      const out = sameFormat && frame.raw ? encoder.passthrough(frame) : encoder.encode(frame.events);
      if (!out) continue;
      tally.chunks++;
      const first = tally.firstByteAt === undefined;
      tally.firstByteAt ??= performance.now();
      if (!res.write(out)) await drained(res);
      // Node's http layer corks the socket on a write until the next tick, and a burst of frames
      // decoded from one upstream read is processed within one tick: without this the first
      // token would wait for the whole burst. Later frames of a burst still leave batched.
      else if (first) res.socket?.uncork();
      if (res.destroyed) break;
    }
    if (!res.destroyed) res.end(encoder.end());
  } catch (e) {
    const err = x.signal.aborted ? asAirouteError(x.signal.reason) : asAirouteError(e);
    tally.error = err;
    if (!res.destroyed) res.end(encoder.error(err));
  }
}

export type Collected = { ok: true; body: unknown; tally: Tally } | { ok: false; err: AirouteError; tally: Tally };

/**
 * Runs an exchange to its end without a client connection (async requests): the answer is
 * folded into one complete result in the endpoint's own non-streamed format. The caller emits
 * the terminal event with `end`, when the request is really over.
 */
export async function collect(sc: Sidecar, x: Exchange): Promise<Collected> {
  const tally = new Tally();
  try {
    const answer = await sc.handle(x);
    tally.see(answer);
    if (answer.kind === 'json') {
      tally.complete(x, answer);
      return { ok: true, body: resultValue(x.request, answer, x.id), tally };
    }
    const builder = new ResultBuilder();
    for await (const frame of answer.frames) {
      tally.firstByteAt ??= performance.now();
      tally.chunks++;
      for (const ev of frame.events) {
        builder.add(ev);
        if (ev.type === 'finish') tally.finish[ev.choice] = ev.reason;
      }
    }
    const result = builder.build();
    tally.see(answer);
    tally.usage = result.usage;
    if (!result.model) result.model = answer.target.model;
    return { ok: true, body: encodeResult(x.request, result, x.id), tally };
  } catch (e) {
    return { ok: false, err: x.signal.aborted ? asAirouteError(x.signal.reason) : asAirouteError(e), tally };
  }
}

/** The one terminal event, the cleanup, and the request's record for logs and metrics. */
export function end(sc: Sidecar, x: Exchange, tally: Tally, t0: number, err?: AirouteError, completedExtra: Record<string, unknown> = {}): void {
  for (const c of x.cleanup) c();
  const lc = x.lifecycle;
  const durationMs = performance.now() - t0;
  const outcome: RequestRecord['outcome'] = !err
    ? 'success'
    : err.code === 'cancelled'
      ? 'cancelled'
      : err.code === 'stream_interrupted' || err.code === 'stream_diverged'
        ? 'interrupted'
        : 'error';
  if (!err)
    lc.emit('request.completed', {
      backend: tally.backend,
      model: tally.model,
      finishReasons: tally.finish,
      ...(tally.usage ? { usage: tally.usage } : {}),
      attempts: lc.attempt,
      durationMs: Math.round(durationMs),
      ...completedExtra,
    });
  else if (outcome === 'cancelled') lc.emit('request.cancelled', { reason: err.message, attempts: lc.attempt });
  else lc.emit('request.failed', { error: { code: err.code, status: err.status, message: err.message, ...(err.details.extra ?? {}) }, attempts: lc.attempt });
  sc.finished({
    id: x.id,
    operation: x.request.operation,
    format: x.request.format,
    route: x.route.model,
    ...(tally.backend ? { backend: tally.backend } : {}),
    ...(tally.model ? { model: tally.model } : {}),
    ...(tally.provider ? { provider: tally.provider } : {}),
    stream: x.request.stream,
    outcome,
    status: err ? err.status : 200,
    ...(err ? { code: err.code } : {}),
    attempts: lc.attempt,
    retries: lc.counts['retry.scheduled'] ?? 0,
    fallbacks: lc.counts.fallback ?? 0,
    resumes: lc.counts['stream.resumed'] ?? 0,
    durationMs,
    ...(tally.firstByteAt !== undefined ? { ttftMs: tally.firstByteAt - t0 } : {}),
    outputChunks: tally.chunks,
    ...(tally.usage ? { usage: tally.usage } : {}),
  });
}
