// The Responses API's endpoints on the data port: `POST /v1/responses` (foreground through the
// pipeline, background on the async machinery), `GET /v1/responses/{id}` (poll, or with
// `?stream=true&starting_after=N` the background stream replayed and followed), `POST
// /v1/responses/{id}/cancel` and `DELETE /v1/responses/{id}`. HTTP only: the state is
// responses/service.ts's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonObject } from '../chat/types.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import { modelNotFound } from '../endpoints/models.ts';
import { AirouteError, asAirouteError } from '../errors.ts';
import { HEARTBEAT_MS } from '../events/sse.ts';
import { drained } from '../net/backpressure.ts';
import { deliver, type ResponseHeaders } from '../pipeline/deliver.ts';
import { openExchange } from '../pipeline/open.ts';
import type { ResponsesEndpoint } from '../metrics.ts';
import type { AsyncService } from '../requests/service.ts';
import type { ResponsesService } from '../responses/service.ts';
import type { Sidecar } from '../sidecar.ts';
import { cancelled } from '../sidecar.ts';
import { decodeResponsesRequest, type ResponsesRequest } from '../wire/responses/client-request.ts';
import type { RawJson } from '../wire/raw-json.ts';
import { echoOf, requestIdOf, responseIdOf, wantsReasoningProof } from '../wire/responses/shapes.ts';
import type { WrittenEvent } from '../wire/responses/writer.ts';
import { acceptedAsync, HttpSink, submission, wantsAsync, type ResponsesEndpoints } from './data-plane.ts';
import { REQUEST_ID_HEADER, sendJson } from './http.ts';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' };

/** A foreground response's client: a passthrough JSON answer is also what the sidecar keeps. */
class ResponsesSink extends HttpSink {
  private readonly request: ResponsesRequest;

  constructor(res: ServerResponse, request: ResponsesRequest) {
    super(res, 'responses');
    this.request = request;
  }

  override json(body: string | Uint8Array, headers: ResponseHeaders): void {
    const outcome = this.request.outcome;
    if (!outcome.response) {
      // The upstream's own bytes (an OpenAI Responses backend): the codec never saw them as an object.
      try {
        const parsed = JSON.parse(typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as JsonObject;
        outcome.response = parsed;
        if (Array.isArray(parsed.output)) outcome.output = parsed.output;
      } catch {
        // not kept, and a continuation of it is refused by name
      }
    }
    super.json(body, headers);
  }
}

function startingAfter(query: URLSearchParams): number {
  const raw = query.get('starting_after');
  if (raw === null || raw === '') return -1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < -1)
    throw new AirouteError('invalid_request', 400, `Invalid 'starting_after': expected a sequence number, got "${raw}".`, { param: 'starting_after' });
  return n;
}

/** Writes a background response's events as SSE until its end, the client's departure, or a failure (said in-stream). */
async function serveEvents(res: ServerResponse, events: AsyncIterable<WrittenEvent>, ac: AbortController): Promise<void> {
  res.on('close', () => ac.abort());
  res.writeHead(200, SSE_HEADERS);
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  let last = -1;
  try {
    for await (const ev of events) {
      last = ev.seq;
      if (!res.write(ev.sse)) await drained(res);
      if (res.destroyed) break;
    }
  } catch (err) {
    // the journal lost the response mid-follow (evicted, its store gone): said in-stream, the status line is long gone
    const e = asAirouteError(err);
    if (!res.destroyed) res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', code: e.code, message: e.message, param: null, sequence_number: last + 1 })}\n\n`);
  } finally {
    clearInterval(heartbeat);
    ac.abort();
    if (!res.destroyed) res.end();
  }
}

export interface ResponsesEndpointsOptions {
  /** Async submissions: without them `background: true` is refused. */
  requests?: AsyncService;
  /** Told of every call when it is answered (metrics). */
  onCall?: (endpoint: ResponsesEndpoint, status: number) => void;
}

export function responsesEndpoints(sc: Sidecar, svc: ResponsesService, opts: ResponsesEndpointsOptions = {}): ResponsesEndpoints {
  const { requests, onCall } = opts;
  /** Counts the call once, when its answer has gone out (`finish`) or the client left first (`close`). */
  const observe = (res: ServerResponse, endpoint: ResponsesEndpoint) => {
    if (!onCall) return;
    let counted = false;
    const count = () => {
      if (!counted) onCall(endpoint, res.statusCode);
      counted = true;
    };
    res.once('finish', count).once('close', count);
  };

  async function create(req: IncomingMessage, res: ServerResponse, id: string, body: JsonObject, config: RuntimeConfig, raw?: RawJson): Promise<void> {
    observe(res, body.background === true ? 'create_background' : 'create');
    const request = decodeResponsesRequest(body, await svc.context(body));
    request.headers = req.headers;
    if (raw) request.raw = raw;
    const route = config.routes.get(request.model);
    if (!route) throw modelNotFound(request.model);
    const preferAsync = wantsAsync(req);
    if (requests && (request.background || preferAsync)) {
      const responses = { echo: echoOf(body), includeProof: wantsReasoningProof(body) };
      const accepted = await requests.submit(submission(req, { id, request, config, path: '/v1/responses', responses }));
      const acceptedId = String(accepted.view.id);
      if (!accepted.replayed) svc.remember(request, acceptedId);
      if (!request.background) return acceptedAsync(res, accepted);
      res.setHeader(REQUEST_ID_HEADER, acceptedId);
      const responseId = responseIdOf(acceptedId);
      if (body.stream !== true) return sendJson(res, 200, await svc.retrieve(responseId));
      const ac = new AbortController();
      return serveEvents(res, await svc.events(responseId, -1, ac.signal), ac);
    }
    if (request.background) throw new AirouteError('unavailable', 503, 'background responses are not available on this sidecar', { param: 'background' });
    svc.remember(request, id);
    const x = openExchange(sc, id, request, route, config);
    res.on('close', () => {
      if (!res.writableFinished) x.abort(cancelled('client'));
    });
    await deliver(sc, x, new ResponsesSink(res, request));
  }

  async function resource(req: IncomingMessage, res: ServerResponse, rest: string, query: URLSearchParams): Promise<void> {
    const [rawId, action, ...more] = rest.split('/');
    let id: string;
    try {
      id = decodeURIComponent(rawId ?? '');
    } catch {
      throw new AirouteError('invalid_request', 400, 'malformed percent-escape in the path');
    }
    if (!id || more.length || (action !== undefined && action !== 'cancel')) throw new AirouteError('not_found', 404, `no such endpoint: ${req.method} /v1/responses/${rest}`);
    // A background response's record and events go by its request's id.
    const requestId = requestIdOf(id);
    if (requestId) res.setHeader(REQUEST_ID_HEADER, requestId);
    observe(res, action === 'cancel' ? 'cancel' : req.method === 'DELETE' ? 'delete' : query.get('stream') === 'true' ? 'retrieve_stream' : 'retrieve');
    if (action === 'cancel') {
      if (req.method !== 'POST') throw new AirouteError('method_not_allowed', 405, `${req.method} is not allowed on /v1/responses/{id}/cancel`);
      return sendJson(res, 200, await svc.cancel(id));
    }
    if (req.method === 'DELETE') return sendJson(res, 200, await svc.delete(id));
    if (req.method !== 'GET') throw new AirouteError('method_not_allowed', 405, `${req.method} is not allowed on /v1/responses/{id}`);
    if (query.get('stream') !== 'true') return sendJson(res, 200, await svc.retrieve(id));
    const after = startingAfter(query);
    const ac = new AbortController();
    return serveEvents(res, await svc.events(id, after, ac.signal), ac);
  }

  return { create, resource };
}
