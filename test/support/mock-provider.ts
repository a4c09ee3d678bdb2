// A scripted LLM provider on 127.0.0.1 that speaks the real wire formats of OpenAI (Chat
// Completions, the Responses API in mock-responses.ts, and Azure OpenAI's deployment paths),
// Anthropic Messages and Gemini, errors included, and injects faults
// per attempt: a status (with Retry-After), refused or reset connections, no response, a slow
// first token, a drop / stall / malformed chunk after N chunks, a stream without its terminator,
// a diverging answer, a refused assistant prefill; per model too, as one host serving several
// models. The mock is the true boundary of the system under test; everything else in a test is real.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { responsesErrorEvent, responsesFrames, responsesJson, responsesPrefill } from './mock-responses.ts';

export interface ToolCallScript {
  id: string;
  name: string;
  arguments: string;
}

export interface AnswerScript {
  text: string;
  toolCalls?: ToolCallScript[];
  finish?: 'stop' | 'length' | 'tool_calls';
  inputTokens?: number;
  outputTokens?: number;
  /** Characters per content chunk (default: one word per chunk). */
  chunkChars?: number;
  /** Delay between chunks. */
  intervalMs?: number;
  /** Reasoning before the answer: a summary (Responses API upstreams), or a signed thinking block (Anthropic). */
  reasoning?: string;
}

export type Fault =
  | { status: number; retryAfter?: string; retryAfterMs?: string; type?: string; code?: string; message?: string }
  | { reset: 'before-headers' }
  | { hang: 'before-headers' }
  | { slowFirstTokenMs: number }
  | { dropAfter: number }
  | { stallAfter: number }
  | { malformedAfter: number }
  | { errorEventAfter: number; type?: string }
  | { noTerminator: true }
  | { diverge: string }
  | { rejectPrefill: true };

export interface ReceivedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** The body's text as it arrived. */
  text: string;
  at: number;
  /** When the mock saw the client side of this request's connection close (ms epoch), if it did. */
  closedAt?: number;
  fault?: Fault;
  /** The bytes of a streamed answer, as written (for passthrough comparisons). */
  sent?: string;
}

type Format = 'openai' | 'anthropic' | 'gemini' | 'responses';

/** Splits text into chunks: words (with their leading space) or fixed-size pieces. */
export function chunkText(text: string, size?: number): string[] {
  if (size) {
    const out: string[] = [];
    for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
    return out;
  }
  return text.match(/\s*\S+/g) ?? (text ? [text] : []);
}

export class MockProvider {
  readonly received: ReceivedRequest[] = [];
  answer: AnswerScript = { text: 'Hello from the mock provider.' };
  /** Consumed one per request, in order; an empty queue answers normally. */
  faults: Fault[] = [];
  /**
   * Per upstream model (one host serving several models): consumed one per request to that model,
   * before `faults`. `down` answers every request to a model with this fault, after its queue.
   */
  readonly modelFaults = new Map<string, Fault[]>();
  readonly down = new Map<string, Fault>();
  /** Per-request answer override, e.g. to answer from the prompt. */
  answerFor?: (body: Record<string, unknown>, format: Format) => AnswerScript | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  url = '';
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** Connections open to this mock right now (idle keep-alive ones included). */
  get openConnections(): number {
    return this.sockets.size;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  reset(): void {
    this.received.length = 0;
    this.faults = [];
    this.modelFaults.clear();
    this.down.clear();
  }

  /** Requests that asked for `model` (OpenAI/Anthropic bodies). */
  receivedFor(model: string): ReceivedRequest[] {
    return this.received.filter((r) => r.body.model === model);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> = {};
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    const path = req.url ?? '/';
    const asked = typeof body.model === 'string' ? body.model : '';
    const fault = this.modelFaults.get(asked)?.shift() ?? this.down.get(asked) ?? this.faults.shift();
    const rec: ReceivedRequest = { path, headers: req.headers, body, text: raw, at: Date.now(), ...(fault ? { fault } : {}) };
    this.received.push(rec);
    res.on('close', () => (rec.closedAt = Date.now()));
    const format: Format = path.includes('/v1/messages') ? 'anthropic' : path.includes('/v1beta/') ? 'gemini' : /\/responses(\?|$)/.test(path) ? 'responses' : 'openai';
    const stream = format === 'gemini' ? path.includes(':streamGenerateContent') : body.stream === true;
    // Each provider's request-id header, as its answers carry it (Gemini's carry none).
    if (format !== 'gemini') res.setHeader(format === 'anthropic' ? 'request-id' : 'x-request-id', `req_mock_${format}_${this.received.length}`);

    if (path.endsWith('/embeddings')) return this.embeddings(res, body);
    if (fault && 'reset' in fault) return void req.socket.destroy();
    if (fault && 'hang' in fault) return; // never answers; the socket stays open until the client gives up
    if (fault && 'status' in fault) return this.error(res, format, fault);
    const prefix = this.prefill(body, format);
    if (prefix !== undefined && fault && 'rejectPrefill' in fault)
      return this.error(res, format, { status: 400, message: 'This model does not support assistant message prefill.', type: 'invalid_request_error' });
    if (prefix !== undefined && format === 'anthropic' && /\s$/.test(prefix))
      return this.error(res, format, { status: 400, message: 'messages: final assistant content cannot end with trailing whitespace', type: 'invalid_request_error' });
    let answer = this.answerFor?.(body, format) ?? this.answer;
    if (fault && 'diverge' in fault) answer = { ...answer, text: fault.diverge };
    // Like a real model given an assistant prefix: continue after it.
    const text = prefix !== undefined && answer.text.startsWith(prefix) ? answer.text.slice(prefix.length) : answer.text;
    const model = format === 'gemini' ? decodeURIComponent(path.split('/models/')[1]?.split(':')[0] ?? '') : String(body.model ?? '');
    const script = { ...answer, text };
    if (!stream) return this.json(res, format, model, script, body);
    if (fault && 'slowFirstTokenMs' in fault) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      await sleep(fault.slowFirstTokenMs);
    }
    return this.stream(res, format, model, script, fault, body, rec);
  }

  private prefill(body: Record<string, unknown>, format: Format): string | undefined {
    if (format === 'gemini') return undefined;
    if (format === 'responses') return responsesPrefill(body);
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const last = messages[messages.length - 1] as { role?: string; content?: unknown } | undefined;
    if (last?.role !== 'assistant') return undefined;
    if (typeof last.content === 'string') return last.content;
    if (Array.isArray(last.content))
      return last.content.map((b: { type?: string; text?: string }) => (b.type === 'text' ? (b.text ?? '') : '')).join('');
    return undefined;
  }

  private error(res: ServerResponse, format: Format, f: { status: number; retryAfter?: string; retryAfterMs?: string; type?: string; code?: string; message?: string }): void {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
    if (f.retryAfterMs !== undefined) headers['retry-after-ms'] = f.retryAfterMs;
    const message = f.message ?? `mock error ${f.status}`;
    let body: unknown;
    if (format === 'anthropic') {
      const type = f.type ?? anthropicType(f.status);
      // Anthropic's error bodies carry the request id too (docs.anthropic.com/en/api/errors).
      body = { type: 'error', error: { type, message }, request_id: `req_mock_anthropic_${this.received.length}` };
    } else if (format === 'gemini') {
      body = { error: { code: f.status, message, status: geminiStatus(f.status) } };
    } else {
      body = { error: { message, type: f.type ?? openaiType(f.status), param: null, code: f.code ?? null } };
    }
    res.writeHead(f.status, headers);
    res.end(JSON.stringify(body));
  }

  private embeddings(res: ServerResponse, body: Record<string, unknown>): void {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        object: 'list',
        model: body.model,
        data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1 * (index + 1), 0.2, 0.3] })),
        usage: { prompt_tokens: inputs.length * 3, total_tokens: inputs.length * 3 },
      }),
    );
  }

  private json(res: ServerResponse, format: Format, model: string, a: AnswerScript, request: Record<string, unknown>): void {
    const finish = a.finish ?? (a.toolCalls?.length ? 'tool_calls' : 'stop');
    const inTok = a.inputTokens ?? 11;
    const outTok = a.outputTokens ?? (chunkText(a.text).length || 1);
    let body: unknown;
    if (format === 'responses') body = responsesJson(request, model, a, inTok, outTok);
    else if (format === 'openai')
      body = {
        id: 'chatcmpl-mock1',
        object: 'chat.completion',
        created: 1700000000,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: a.text === '' && a.toolCalls?.length ? null : a.text,
              refusal: null,
              ...(a.toolCalls?.length ? { tool_calls: a.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })) } : {}),
            },
            logprobs: null,
            finish_reason: finish,
          },
        ],
        usage: { prompt_tokens: inTok, completion_tokens: outTok, total_tokens: inTok + outTok },
        system_fingerprint: 'fp_mock',
      };
    else if (format === 'anthropic')
      body = {
        id: 'msg_mock1',
        type: 'message',
        role: 'assistant',
        model,
        content: [
          ...(a.reasoning !== undefined ? [{ type: 'thinking', thinking: a.reasoning, signature: MOCK_THINKING_SIGNATURE }] : []),
          ...(a.text ? [{ type: 'text', text: a.text }] : []),
          ...(a.toolCalls ?? []).map((t) => ({ type: 'tool_use', id: t.id, name: t.name, input: JSON.parse(t.arguments) as unknown })),
        ],
        stop_reason: finish === 'tool_calls' ? 'tool_use' : finish === 'length' ? 'max_tokens' : 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: inTok, output_tokens: outTok },
      };
    else
      body = {
        candidates: [
          {
            content: {
              role: 'model',
              parts: [...(a.text ? [{ text: a.text }] : []), ...(a.toolCalls ?? []).map((t) => ({ functionCall: { name: t.name, args: JSON.parse(t.arguments) as unknown } }))],
            },
            finishReason: finish === 'length' ? 'MAX_TOKENS' : 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { promptTokenCount: inTok, candidatesTokenCount: outTok, totalTokenCount: inTok + outTok },
        modelVersion: model,
        responseId: 'mock-response-1',
      };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async stream(res: ServerResponse, format: Format, model: string, a: AnswerScript, fault: Fault | undefined, body: Record<string, unknown>, rec: ReceivedRequest): Promise<void> {
    if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const pieces = chunkText(a.text, a.chunkChars);
    const finish = a.finish ?? (a.toolCalls?.length ? 'tool_calls' : 'stop');
    const inTok = a.inputTokens ?? 11;
    // Unless scripted, a token per chunk actually generated (a continuation reports fewer).
    const outTok = a.outputTokens ?? (pieces.length || 1);
    const frames =
      format === 'responses'
        ? responsesFrames(body, model, a, pieces, (args) => chunkText(args, 8), inTok, outTok)
        : framesFor(format, model, pieces, a.toolCalls ?? [], finish, inTok, outTok, body, a.reasoning);
    rec.sent = '';
    let content = 0;
    for (const f of frames) {
      if (res.destroyed) return;
      if (f.content) {
        if (fault && 'dropAfter' in fault && content >= fault.dropAfter) {
          // Let what was written reach the client first: a drop loses the connection, not data already sent.
          await sleep(30);
          return void res.socket?.destroy();
        }
        if (fault && 'stallAfter' in fault && content >= fault.stallAfter) return; // silent, connection open
        if (fault && 'malformedAfter' in fault && content >= fault.malformedAfter) {
          res.write('data: {"id":"chatcmpl-mock1","choices":[{"index":0,"delta":{"content":"BROKEN\n\n');
          return void res.end();
        }
        if (fault && 'errorEventAfter' in fault && content >= fault.errorEventAfter) {
          const type = fault.type ?? 'overloaded_error';
          if (format === 'anthropic') res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message: 'Overloaded' } })}\n\n`);
          else if (format === 'responses') res.write(responsesErrorEvent(frames.indexOf(f)));
          else res.write(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } })}\n\n`);
          return void res.end();
        }
        content++;
        if (a.intervalMs) await sleep(a.intervalMs);
      }
      if (f.terminator && fault && 'noTerminator' in fault) continue;
      res.write(f.text);
      rec.sent += f.text;
    }
    res.end();
  }
}

interface WireFrame {
  text: string;
  /** Counts toward dropAfter/stallAfter (a text or tool-argument chunk). */
  content?: boolean;
  /** The stream's end marker ([DONE], message_stop). */
  terminator?: boolean;
}

function framesFor(
  format: Format,
  model: string,
  pieces: string[],
  tools: ToolCallScript[],
  finish: string,
  inTok: number,
  outTok: number,
  body: Record<string, unknown>,
  reasoning?: string,
): WireFrame[] {
  const out: WireFrame[] = [];
  if (format === 'openai') {
    const base = { id: 'chatcmpl-mock1', object: 'chat.completion.chunk', created: 1700000000, model, system_fingerprint: 'fp_mock' };
    const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const choice = (delta: unknown, finish_reason: string | null = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason }] });
    out.push({ text: data(choice({ role: 'assistant', content: '', refusal: null })) });
    for (const p of pieces) out.push({ text: data(choice({ content: p })), content: true });
    tools.forEach((t, index) => {
      out.push({ text: data(choice({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] })), content: true });
      for (const frag of chunkText(t.arguments, 8)) out.push({ text: data(choice({ tool_calls: [{ index, function: { arguments: frag } }] })), content: true });
    });
    out.push({ text: data(choice({}, finish)) });
    const so = body.stream_options as { include_usage?: boolean } | undefined;
    if (so?.include_usage) out.push({ text: data({ ...base, choices: [], usage: { prompt_tokens: inTok, completion_tokens: outTok, total_tokens: inTok + outTok } }) });
    out.push({ text: 'data: [DONE]\n\n', terminator: true });
  } else if (format === 'anthropic') {
    const ev = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
    out.push({
      text: ev('message_start', {
        message: { id: 'msg_mock1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inTok, output_tokens: 1 } },
      }),
    });
    let index = 0;
    if (reasoning !== undefined) {
      // Anthropic's extended thinking: the block, its text, then its signature, before the answer.
      out.push({ text: ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }) });
      out.push({ text: ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: reasoning } }), content: true });
      out.push({ text: ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: MOCK_THINKING_SIGNATURE } }) });
      out.push({ text: ev('content_block_stop', { index }) });
      index++;
    }
    if (pieces.length) {
      out.push({ text: ev('content_block_start', { index, content_block: { type: 'text', text: '' } }) });
      out.push({ text: ev('ping', {}) });
      for (const p of pieces) out.push({ text: ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } }), content: true });
      out.push({ text: ev('content_block_stop', { index }) });
      index++;
    }
    for (const t of tools) {
      out.push({ text: ev('content_block_start', { index, content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} } }), content: true });
      for (const frag of chunkText(t.arguments, 8)) out.push({ text: ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: frag } }), content: true });
      out.push({ text: ev('content_block_stop', { index }) });
      index++;
    }
    const stop = finish === 'tool_calls' ? 'tool_use' : finish === 'length' ? 'max_tokens' : 'end_turn';
    out.push({ text: ev('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: outTok } }) });
    out.push({ text: ev('message_stop', {}), terminator: true });
  } else {
    const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
    const chunk = (parts: unknown[], extra: object = {}) => ({
      candidates: [{ content: { role: 'model', parts }, index: 0, ...extra }],
      usageMetadata: { promptTokenCount: inTok, totalTokenCount: inTok },
      modelVersion: model,
      responseId: 'mock-response-1',
    });
    for (const p of pieces) out.push({ text: data(chunk([{ text: p }])), content: true });
    for (const t of tools) out.push({ text: data(chunk([{ functionCall: { name: t.name, args: JSON.parse(t.arguments) as unknown } }])), content: true });
    out.push({
      text: data({
        ...chunk([], { finishReason: finish === 'length' ? 'MAX_TOKENS' : 'STOP' }),
        usageMetadata: { promptTokenCount: inTok, candidatesTokenCount: outTok, totalTokenCount: inTok + outTok },
      }),
    });
  }
  return out;
}

function openaiType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 401) return 'invalid_request_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function anthropicType(status: number): string {
  return (
    { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 529: 'overloaded_error' } as Record<number, string>
  )[status] ?? 'api_error';
}

function geminiStatus(status: number): string {
  return ({ 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 503: 'UNAVAILABLE' } as Record<number, string>)[status] ?? 'INTERNAL';
}

/** The signature the mock's Anthropic thinking blocks carry (what the next turn must hand back). */
export const MOCK_THINKING_SIGNATURE = 'EqQBCkgIARABGAIiQMockThinkingSignature';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every test starts from clean mocks giving the same answer: no faults queued, nothing received. */
export function resetMocks(answer: AnswerScript, ...mocks: MockProvider[]): void {
  for (const m of mocks) {
    m.reset();
    m.answer = { ...answer };
  }
}
