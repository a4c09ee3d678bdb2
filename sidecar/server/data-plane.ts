// The data port: provider-shaped endpoints on loopback, on bare node:http (the hot path). This
// file only speaks HTTP: it reads and decodes the body, picks the route, and hands the request to
// the pipeline with a sink that writes bytes to the socket. Control endpoints (`/airoute/...`)
// go to their express app.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientFormat, JsonObject, ProxyRequest } from '../chat/types.ts';
import type { RuntimeConfig } from '../config/runtime.ts';
import type { RawJson } from '../wire/raw-json.ts';
import { countTokens } from '../endpoints/count-tokens.ts';
import { decodeEmbeddingsRequest } from '../endpoints/embeddings.ts';
import { getModel, listModels, modelNotFound } from '../endpoints/models.ts';
import { AirouteError, asAirouteError } from '../errors.ts';
import { drained } from '../net/backpressure.ts';
import { parseJsonBody, parseJsonObject, readBody } from '../net/body.ts';
import { checkBrowserOrigin, corsHeaders, NO_BROWSER_ORIGINS, preflightHeaders, requireJsonBody } from '../net/browser-policy.ts';
import { deliver, type ClientSink, type ResponseHeaders } from '../pipeline/deliver.ts';
import { openExchange } from '../pipeline/open.ts';
import { requestLocation, type Accepted, type AsyncService, type AsyncSubmission } from '../requests/service.ts';
import type { Sidecar } from '../sidecar.ts';
import { cancelled } from '../sidecar.ts';
import { decodeCountTokensRequest } from '../wire/anthropic/client-request.ts';
import { CLIENT_CODECS } from '../wire/clients.ts';
import { REQUEST_ID_HEADER, sendError, sendJson } from './http.ts';
import type { MemoryGuard } from './load-shed.ts';

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface DataPlaneOptions {
  /** Async submissions (`Prefer: respond-async`); without it the header is ignored. */
  requests?: AsyncService;
  /** The express app for `/airoute/...` (async and events API, demo page). */
  control?: HttpHandler;
  /** Sheds new work under memory pressure (throws 503 + Retry-After); see load-shed.ts. */
  memory?: MemoryGuard;
  /** The Responses API's own endpoints (server/responses.ts); without it `POST /v1/responses` is served like any other format. */
  responses?: ResponsesEndpoints;
}

/** What the data port hands the Responses API (server/responses.ts). */
export interface ResponsesEndpoints {
  /** `POST /v1/responses`, its body read and parsed (`raw`: its text, for a same-format upstream). */
  create(req: IncomingMessage, res: ServerResponse, id: string, body: JsonObject, config: RuntimeConfig, raw?: RawJson): Promise<void>;
  /** `/v1/responses/{id}` and below; `rest` is the path after `/v1/responses/`. */
  resource(req: IncomingMessage, res: ServerResponse, rest: string, query: URLSearchParams): Promise<void>;
}

type Endpoint = ClientFormat | 'embeddings' | 'count_tokens';
const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ['/v1/chat/completions', 'openai'],
  ['/v1/messages', 'anthropic'],
  ['/v1/messages/count_tokens', 'count_tokens'],
  ['/v1/responses', 'responses'],
  ['/v1/embeddings', 'embeddings'],
]);

export function dataPlane(sc: Sidecar, opts: DataPlaneOptions = {}): HttpHandler {
  return (req, res) => {
    let format: ClientFormat = 'openai';
    // A defect here ends this request only: thrown out of a 'request' listener it would end the process.
    const failed = (err: unknown) => {
      const e = asAirouteError(err);
      if (e.code === 'internal') sc.defect('data', err);
      if (!res.headersSent) sendError(res, e, format);
      else res.destroy();
    };
    try {
      const id = sc.newRequestId();
      res.setHeader(REQUEST_ID_HEADER, id);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const control = path.startsWith('/airoute/');
      if (!control) format = path.startsWith('/v1/messages') || req.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai';
      // Before anything else, and for the control endpoints too: a web page must not spend the keys or read answers.
      const crossOrigin = checkBrowserOrigin(req, sc.config?.cors ?? NO_BROWSER_ORIGINS);
      if (crossOrigin !== undefined) {
        if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
          res.writeHead(204, preflightHeaders(req, crossOrigin));
          return void res.end();
        }
        for (const [k, v] of Object.entries(corsHeaders(crossOrigin))) res.setHeader(k, v);
      }
      if (control && opts.control) return opts.control(req, res);
      route(sc, opts, req, res, id, path, format).catch(failed);
    } catch (err) {
      failed(err);
    }
  };
}

async function route(sc: Sidecar, opts: DataPlaneOptions, req: IncomingMessage, res: ServerResponse, id: string, path: string, format: ClientFormat): Promise<void> {
  if (opts.responses && path.startsWith('/v1/responses/')) {
    const url = req.url ?? '';
    return opts.responses.resource(req, res, path.slice('/v1/responses/'.length), new URLSearchParams(url.slice(url.indexOf('?') + 1 || url.length)));
  }
  const endpoint = ENDPOINTS.get(path);
  if (endpoint && req.method === 'POST') {
    requireJsonBody(req);
    if (endpoint === 'count_tokens') return count(sc, req, res);
    opts.memory?.admit();
    return proxy(sc, opts, req, res, id, endpoint, path);
  }
  if (req.method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
    const config = ready(sc);
    const anthropic = format === 'anthropic';
    const body = path === '/v1/models' ? listModels(config, anthropic) : getModel(config, decodePathSegment(path.slice('/v1/models/'.length)), anthropic);
    return sendJson(res, 200, body);
  }
  throw endpoint
    ? new AirouteError('method_not_allowed', 405, `${req.method} is not allowed on ${path}`)
    : new AirouteError('not_found', 404, `no such endpoint: ${req.method} ${path}`);
}

function decodePathSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new AirouteError('invalid_request', 400, 'malformed percent-escape in the path');
  }
}

export function ready(sc: Sidecar): RuntimeConfig {
  const config = sc.config;
  if (!config) throw new AirouteError('not_ready', 503, 'the sidecar has no configuration yet');
  return config;
}

async function count(sc: Sidecar, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const config = ready(sc);
  const request = decodeCountTokensRequest(parseJsonObject(await readBody(req, config.maxBodyBytes)));
  request.headers = req.headers;
  const route = config.routes.get(request.model);
  if (!route) throw modelNotFound(request.model);
  const gone = new AbortController();
  res.on('close', () => gone.abort());
  const answer = await countTokens(request, route, { transport: sc.transportFor, secrets: config.secrets, signal: gone.signal }).catch((err: unknown) => {
    const e = asAirouteError(err);
    if (e.details.responseHeaders) for (const [k, v] of Object.entries(e.details.responseHeaders)) res.setHeader(k, v);
    throw e;
  });
  return sendJson(res, 200, answer.body, answer.headers);
}

function decode(endpoint: Exclude<Endpoint, 'count_tokens'>, body: Record<string, unknown>): ProxyRequest {
  if (endpoint === 'embeddings') return decodeEmbeddingsRequest(body);
  return CLIENT_CODECS[endpoint].decodeRequest(body);
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function proxy(sc: Sidecar, opts: DataPlaneOptions, req: IncomingMessage, res: ServerResponse, id: string, endpoint: Exclude<Endpoint, 'count_tokens'>, path: string): Promise<void> {
  const config = ready(sc);
  const { body, raw } = parseJsonBody(await readBody(req, config.maxBodyBytes));
  if (endpoint === 'responses' && opts.responses) return opts.responses.create(req, res, id, body, config, raw);
  const request = decode(endpoint, body);
  request.headers = req.headers;
  request.raw = raw;
  const route = config.routes.get(request.model);
  if (!route) throw modelNotFound(request.model);
  if (opts.requests && wantsAsync(req)) {
    const accepted = await opts.requests.submit(submission(req, { id, request, config, path }));
    return acceptedAsync(res, accepted);
  }
  const x = openExchange(sc, id, request, route, config);
  res.on('close', () => {
    if (!res.writableFinished) x.abort(cancelled('client'));
  });
  await deliver(sc, x, new HttpSink(res, request.format));
}

/** `Prefer: respond-async` (RFC 7240). */
export function wantsAsync(req: IncomingMessage): boolean {
  return /\brespond-async\b/i.test(header(req, 'prefer') ?? '');
}

/** An async submission with what its headers ask for (callback, idempotency key). */
export function submission(req: IncomingMessage, s: Pick<AsyncSubmission, 'id' | 'request' | 'config' | 'path' | 'responses'>): AsyncSubmission {
  const callbackUrl = header(req, 'airoute-callback-url');
  const idempotencyKey = header(req, 'idempotency-key');
  return {
    ...s,
    awaitCallback: /^true$/i.test(header(req, 'airoute-await-callback') ?? ''),
    ...(callbackUrl !== undefined ? { callbackUrl } : {}),
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
  };
}

/** 202 with the record's view and its Location. */
export function acceptedAsync(res: ServerResponse, accepted: Accepted): void {
  const view = accepted.view;
  const acceptedId = String(view.id);
  res.setHeader(REQUEST_ID_HEADER, acceptedId);
  sendJson(res, 202, view, {
    location: requestLocation(acceptedId),
    'preference-applied': 'respond-async',
    ...(accepted.replayed ? { 'idempotent-replayed': 'true' } : {}),
  });
}

/** The pipeline's output onto one HTTP response. */
export class HttpSink implements ClientSink {
  protected readonly res: ServerResponse;
  private readonly format: ClientFormat;

  constructor(res: ServerResponse, format: ClientFormat) {
    this.res = res;
    this.format = format;
  }

  get closed(): boolean {
    return this.res.destroyed;
  }

  fail(err: AirouteError, headers: ResponseHeaders): void {
    sendError(this.res, err, this.format, headers);
  }

  json(body: string | Uint8Array, headers: ResponseHeaders): void {
    sendJson(this.res, 200, body, headers);
  }

  open(headers: ResponseHeaders): void {
    this.res.writeHead(200, headers);
  }

  write(chunk: string | Uint8Array, first: boolean): Promise<void> | undefined {
    if (!this.res.write(chunk)) return drained(this.res);
    // Node's http layer corks the socket on a write until the next tick, and a burst of frames
    // decoded from one upstream read is processed within one tick: without this the first
    // token would wait for the whole burst. Later frames of a burst still leave batched.
    if (first) this.res.socket?.uncork();
    return undefined;
  }

  end(tail: string): void {
    this.res.end(tail);
  }

  abort(): void {
    this.res.destroy();
  }
}
