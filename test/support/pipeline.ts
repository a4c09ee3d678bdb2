// Builders for unit tests of the data path (sidecar/stages, sidecar/pipeline, sidecar/upstream):
// a runtime config compiled by the real validator and compileConfig, exchanges opened by the real
// openExchange, and a scripted in-memory Transport whose response bodies a test feeds chunk by
// chunk. Adapters and codecs are the real ones; only the upstream's bytes come from the test.
// It lives under test/ because it is test code: the build and the images never ship it.
import { Writable } from 'node:stream';
import type { SidecarConfig } from '../../api/v1alpha1/config.ts';
import { formatIssue, validateConfig } from '../../api/v1alpha1/validate.ts';
import type { ChatRequest, ClientFormat, Frame, JsonObject } from '../../sidecar/chat/types.ts';
import { compileConfig, envSecrets, type RuntimeBackend, type RuntimeConfig, type RuntimeRoute, type RuntimeTarget } from '../../sidecar/config/runtime.ts';
import { Lifecycle } from '../../sidecar/events/lifecycle.ts';
import type { LifecycleEvent, LifecycleEventType } from '../../sidecar/events/types.ts';
import { createLogger } from '../../sidecar/log.ts';
import type { JsonAnswer, RouteExchange } from '../../sidecar/pipeline/exchange.ts';
import { openExchange } from '../../sidecar/pipeline/open.ts';
import type { HeaderMap, UpstreamRequest } from '../../sidecar/providers/types.ts';
import { Sidecar, type RequestRecord } from '../../sidecar/sidecar.ts';
import type { Cancellation, SendOptions, Transport, UpstreamResponse } from '../../sidecar/upstream/transport.ts';
import { CLIENT_CODECS } from '../../sidecar/wire/clients.ts';

// ---------------------------------------------------------------- config

/** A config document as a test writes it, validated and compiled as the sidecar would; throws on a mistake in the test. */
export function compile(doc: SidecarConfig): RuntimeConfig {
  const v = validateConfig(doc);
  if (!v.ok) throw new Error(`test config is invalid: ${v.issues.map(formatIssue).join('; ')}`);
  const c = compileConfig(v.value, 1, envSecrets({}));
  if (!c.ok) throw new Error(`test config does not compile: ${c.issues.map(formatIssue).join('; ')}`);
  return c.config;
}

export function routeOf(config: RuntimeConfig, model: string): RuntimeRoute {
  const r = config.routes.get(model);
  if (!r) throw new Error(`no route "${model}" in the test config`);
  return r;
}

export function backendOf(config: RuntimeConfig, name: string): RuntimeBackend {
  const b = config.backends.get(name);
  if (!b) throw new Error(`no backend "${name}" in the test config`);
  return b;
}

/** The route's target on `backend`. */
export function targetOf(route: RuntimeRoute, backend: string): RuntimeTarget {
  const t = route.targets.find((x) => x.backend.name === backend);
  if (!t) throw new Error(`route "${route.model}" has no target on "${backend}"`);
  return t;
}

// ---------------------------------------------------------------- requests and answers

/** A one-message chat body in the client's format. */
export function chatBody(model: string, opts: { stream?: boolean; format?: ClientFormat; includeUsage?: boolean } = {}): JsonObject {
  const body: JsonObject = { model, messages: [{ role: 'user', content: 'hi' }] };
  if (opts.stream) body.stream = true;
  if (opts.format === 'anthropic') body.max_tokens = 64;
  if (opts.includeUsage) body.stream_options = { include_usage: true };
  return body;
}

/** Decoded by the client format's real decoder, as the server would. */
export function chatRequest(body: JsonObject, format: ClientFormat = 'openai'): ChatRequest {
  return CLIENT_CODECS[format].decodeRequest(body);
}

/** A stand-in answer for stage tests whose `next` is a fake. */
export function answerFrom(target: RuntimeTarget, attempt = 1): JsonAnswer {
  return { kind: 'json', target, attempt, raw: '{}' };
}

/** Every frame of a stream, or the error that ended it (with the frames before it). */
export async function drain(frames: AsyncIterable<Frame>): Promise<{ frames: Frame[]; error?: unknown }> {
  const got: Frame[] = [];
  try {
    for await (const f of frames) got.push(f);
    return { frames: got };
  } catch (error) {
    return { frames: got, error };
  }
}

/** The text of choice 0 in a list of frames. */
export function textOf(frames: readonly Frame[]): string {
  return frames.flatMap((f) => f.events.flatMap((e) => (e.type === 'text' && e.choice === 0 ? [e.text] : []))).join('');
}

// ---------------------------------------------------------------- upstream bytes

/** One SSE event as an upstream sends it. */
export function sse(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** Chat Completions stream chunks and bodies, as OpenAI-compatible servers send them. */
export const openaiWire = {
  role: () => sse({ id: 'chatcmpl-up', object: 'chat.completion.chunk', model: 'up-model', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
  text: (text: string, choice = 0) => sse({ id: 'chatcmpl-up', object: 'chat.completion.chunk', model: 'up-model', choices: [{ index: choice, delta: { content: text }, finish_reason: null }] }),
  finish: (reason = 'stop', choice = 0) => sse({ id: 'chatcmpl-up', object: 'chat.completion.chunk', model: 'up-model', choices: [{ index: choice, delta: {}, finish_reason: reason }] }),
  usage: (prompt: number, completion: number) =>
    sse({ id: 'chatcmpl-up', object: 'chat.completion.chunk', model: 'up-model', choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } }),
  done: 'data: [DONE]\n\n',
  completion: (text: string, extra: JsonObject = {}) =>
    JSON.stringify({
      id: 'chatcmpl-up',
      object: 'chat.completion',
      created: 1,
      model: 'up-model',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      ...extra,
    }),
  error: (message: string, type = 'invalid_request_error', code: string | null = null) => JSON.stringify({ error: { message, type, param: null, code } }),
};

// ---------------------------------------------------------------- scripted transport

type BodyItem = { chunk: Uint8Array } | { end: true } | { error: unknown };

/**
 * A response body the test feeds: chunks it pushes are read in order; nothing more arrives until
 * it pushes again, ends or fails the body. A cancel of the attempt fails the read in progress with
 * its reason, as undici does.
 */
export class ScriptedBody implements AsyncIterable<Uint8Array> {
  private readonly queue: BodyItem[] = [];
  private waiting: ((item: BodyItem) => void) | undefined;
  private cancel: Cancellation | undefined;
  /** Chunks the reader has taken. */
  pulled = 0;
  /** The reader stopped before the end (a `break` out of for-await). */
  returned = false;
  /** The attempt released the response. */
  discarded = false;

  constructor(...chunks: (string | Uint8Array)[]) {
    this.push(...chunks);
  }

  push(...chunks: (string | Uint8Array)[]): this {
    for (const c of chunks) this.deliver({ chunk: typeof c === 'string' ? Buffer.from(c, 'utf8') : c });
    return this;
  }

  end(): this {
    this.deliver({ end: true });
    return this;
  }

  fail(error: unknown): this {
    this.deliver({ error });
    return this;
  }

  /** Ties the body to the attempt's cancellation (done by ScriptedTransport). */
  bind(cancel: Cancellation): void {
    this.cancel = cancel;
    cancel.onCancel((reason) => this.waiting?.({ error: reason }));
  }

  discard(): void {
    this.discarded = true;
  }

  private deliver(item: BodyItem): void {
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      w(item);
    } else this.queue.push(item);
  }

  private settle(item: BodyItem): Promise<IteratorResult<Uint8Array>> {
    if ('error' in item) return Promise.reject(item.error);
    if ('end' in item) return Promise.resolve({ done: true, value: undefined });
    this.pulled++;
    return Promise.resolve({ done: false, value: item.chunk });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => {
        if (this.cancel?.reason !== undefined) return Promise.reject(this.cancel.reason);
        const item = this.queue.shift();
        if (item) return this.settle(item);
        return new Promise<BodyItem>((resolve) => (this.waiting = resolve)).then((i) => this.settle(i));
      },
      return: () => {
        this.returned = true;
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }
}

/** What one upstream call does: answer (status, headers, a body), fail to connect, or never answer. */
export type Reply = { status: number; headers?: HeaderMap; body: ScriptedBody } | { fail: unknown } | { hang: true };

/** A complete answer: status and the whole body at once. */
export const answer = (status: number, body: string, headers: HeaderMap = {}): Reply => ({ status, headers, body: new ScriptedBody(body).end() });

/** A connection error as Node reports one (an errno code on the error). */
export const connectError = (code: string): Reply => ({ fail: Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code }) });

export interface SentRequest {
  backend: string;
  request: UpstreamRequest;
  /** The upstream request body, parsed. */
  body: JsonObject;
}

/** Upstream replies scripted per backend, used in order; a call with nothing scripted fails the test loudly. */
export class ScriptedTransport {
  private readonly replies = new Map<string, Reply[]>();
  readonly sent: SentRequest[] = [];

  script(backend: string, ...replies: Reply[]): this {
    this.replies.set(backend, [...(this.replies.get(backend) ?? []), ...replies]);
    return this;
  }

  /** Backends called, in order. */
  get calls(): string[] {
    return this.sent.map((s) => s.backend);
  }

  /** In the shape of Sidecar.transportFor. */
  readonly for = (target: RuntimeTarget): Transport => ({ send: (req, opts) => this.send(target.backend.name, req, opts) });

  private send(backend: string, request: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse> {
    this.sent.push({ backend, request, body: JSON.parse(request.body) as JsonObject });
    const reply = this.replies.get(backend)?.shift();
    if (!reply) return Promise.reject(new Error(`test bug: no reply scripted for backend "${backend}"`));
    if ('fail' in reply) return Promise.reject(reply.fail);
    if ('hang' in reply)
      return new Promise((_resolve, reject) => {
        if (opts.cancel.reason !== undefined) reject(opts.cancel.reason);
        else opts.cancel.onCancel(reject);
      });
    reply.body.bind(opts.cancel);
    return Promise.resolve({ status: reply.status, headers: reply.headers ?? {}, body: reply.body, discard: () => reply.body.discard() });
  }
}

// ---------------------------------------------------------------- events

/** A lifecycle whose events a test reads back. */
export function recordingLifecycle(id = 'req-1'): { lifecycle: Lifecycle; events: LifecycleEvent[] } {
  const events: LifecycleEvent[] = [];
  return { lifecycle: new Lifecycle(id, (ev) => events.push(ev)), events };
}

export const typesOf = (events: readonly LifecycleEvent[]): LifecycleEventType[] => events.map((e) => e.type);
export const dataOf = (events: readonly LifecycleEvent[], type: LifecycleEventType): Record<string, unknown>[] => events.filter((e) => e.type === type).map((e) => e.data);

// ---------------------------------------------------------------- a sidecar without sockets

export interface Harness {
  sc: Sidecar;
  config: RuntimeConfig;
  transport: ScriptedTransport;
  /** Every lifecycle event of every request opened here. */
  events: LifecycleEvent[];
  /** Every finished request's record. */
  records: RequestRecord[];
  /** Decodes a body in the client's format and opens an exchange on its route, as the server does. */
  open(body: JsonObject, format?: ClientFormat): RouteExchange;
}

/** The real Sidecar (config swapped in, resilience state, event dispatch), with the scripted transport for every backend. */
export function harness(doc: SidecarConfig): Harness {
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  const sc = new Sidecar(createLogger('silent', silent));
  const config = compile(doc);
  const transport = new ScriptedTransport();
  sc.transportFor = transport.for;
  sc.swap(config);
  const events: LifecycleEvent[] = [];
  const records: RequestRecord[] = [];
  sc.onEvent((ev) => events.push(ev));
  sc.observe({ requestFinished: (r) => records.push(r) });
  let n = 0;
  return {
    sc,
    config,
    transport,
    events,
    records,
    open(body, format = 'openai') {
      const request = chatRequest(body, format);
      return openExchange(sc, `req-${++n}`, request, routeOf(config, request.model), config);
    },
  };
}

/**
 * Two OpenAI-compatible backends and a verify route `r`: `a` is cut after "Hello" and refuses the
 * continuation (503), so `b` regenerates "Hello world" whole and finishes the answer.
 */
export function resumedOnFallback(): Harness {
  const h = harness({
    backends: [
      { name: 'a', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1' },
      { name: 'b', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1' },
    ],
    routes: [{ model: 'r', backends: [{ backend: 'a', model: 'model-a' }, { backend: 'b', model: 'model-b' }], retry: { attempts: 1, backoff: { baseMs: 0, maxMs: 0 } }, resume: 'verify' }],
  });
  h.transport.script('a', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text('Hello')).end() }, answer(503, openaiWire.error('overloaded', 'server_error')));
  h.transport.script('b', { status: 200, body: new ScriptedBody(openaiWire.role(), openaiWire.text('Hello world'), openaiWire.finish(), openaiWire.done).end() });
  return h;
}
