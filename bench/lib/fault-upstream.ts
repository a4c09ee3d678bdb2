// A scripted, misbehaving OpenAI-compatible upstream for `npm run bench:faults`, a process of its
// own. `POST /v1/chat/completions`, streamed or not, with chunks shaped like bench/upstream.ts's
// (role chunk, one content chunk per token of `canonicalText`, finish chunk, usage chunk when
// `stream_options.include_usage`, `data: [DONE]`). It echoes the model it was asked for, and
// continues a trailing assistant message (a prefill) from where its text ends, as a real model would.
//
// Scripts are per model, as one provider host serves several models: a request for a model with
// a script of its own follows that script, any other the default script. Faults are scripted per
// request, in order: `faults[0]` for the first request (to that model) after the script was set,
// and so on; `then` for every request after those (default: a normal answer). With `downForMs`,
// every request arriving within that time after the script was set is answered 503 (an outage),
// whatever the script says. Every request is logged (arrival time, model, prefill, fault, what was
// sent), so a verdict can rest on what the upstream saw, not on what a proxy says.
//
// Control: `PUT /_fault/script` (JSON `FaultScript`: the default script; resets every log and
// every model's script, ends held connections), `PUT /_fault/script?model=NAME` (that model's
// script; resets its log, ends its held connections), `GET /_fault/log` (every request, in
// arrival order). Usage: node bench/lib/fault-upstream.ts --port N (prints `listening PORT`).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { canonicalText, pieces } from './common.ts';

export type Fault =
  | { kind: 'ok' }
  /** An error answer with the provider's JSON error body; `retryAfter` is the `retry-after` header. */
  | { kind: 'status'; status: number; retryAfter?: string; retryAfterMs?: string; type?: string; code?: string | null; message?: string }
  /** The connection is destroyed after the request was read, before any byte of a response. */
  | { kind: 'reset' }
  /** Never answers; the connection stays open until the client side closes it. */
  | { kind: 'hang' }
  /** Headers and the role chunk at once, then nothing for `ms`, then the answer. */
  | { kind: 'slowFirstToken'; ms: number }
  /** The connection is destroyed after `after` content chunks (no terminator). */
  | { kind: 'drop'; after: number }
  /** Silence after `after` content chunks, the connection open, until the client side closes it. */
  | { kind: 'stall'; after: number }
  /** After `after` content chunks, one event whose JSON is cut off, then the response ends. */
  | { kind: 'malformed'; after: number }
  /** The complete answer (finish reason, usage), then the response ends without `data: [DONE]`. */
  | { kind: 'noDone' }
  /** 400 to a request that ends with an assistant message (a prefill); a fresh request is answered. */
  | { kind: 'rejectPrefill' };

export interface FaultScript {
  faults?: Fault[];
  then?: Fault;
  downForMs?: number;
  /** Content tokens per answer (default 32). */
  chunks?: number;
  /** Milliseconds between content chunks of a stream (default 10). */
  intervalMs?: number;
}

export interface RequestLog {
  /** Ordinal since the script was set, from 1. */
  n: number;
  /** Arrival (epoch ms, after the body was read). */
  at: number;
  model: string;
  stream: boolean;
  /** Characters of a trailing assistant message (a prefill), or null. */
  prefillChars: number | null;
  /** The prefill is a prefix of the canonical answer. */
  prefillOk: boolean | null;
  /** What the mock did: `ok`, `429`, `reset`, `hang`, `drop@16`, `down 503`, ... */
  fault: string;
  status: number | null;
  /** Content chunks written. */
  contentSent: number;
  /** The response was written completely. */
  completed: boolean;
  /** When the connection closed before the response was complete (epoch ms). */
  closedAt?: number;
}

export const FAULT_PROMPT_TOKENS = 31;

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

type Script = Required<Omit<FaultScript, 'downForMs'>> & { downUntil: number };

/** What one script serves: its faults, its log, and the responses it holds open (hang, stall). */
interface Scripted {
  script: Script;
  log: RequestLog[];
  held: Set<ServerResponse>;
}

function scripted(s: FaultScript = {}): Scripted {
  return {
    script: { faults: s.faults ?? [], then: s.then ?? { kind: 'ok' }, downUntil: s.downForMs ? Date.now() + s.downForMs : 0, chunks: s.chunks ?? 32, intervalMs: s.intervalMs ?? 10 },
    log: [],
    held: new Set(),
  };
}

let fallbackScript = scripted();
/** By model name; bounded by what the controller scripts (one entry per scenario model). */
const byModel = new Map<string, Scripted>();
const sockets = new Set<Socket>();

function release(x: Scripted): void {
  for (const r of x.held) r.destroy();
  x.held.clear();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(status: number, f: { type?: string; code?: string | null; message?: string }): unknown {
  const type = f.type ?? (status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error');
  return { error: { message: f.message ?? `mock error ${status}`, type, param: null, code: f.code ?? null } };
}


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function describe(f: Fault): string {
  switch (f.kind) {
    case 'status':
      return `${f.status}${f.retryAfter !== undefined ? ` retry-after ${f.retryAfter}` : ''}${f.code ? ` ${f.code}` : ''}`;
    case 'slowFirstToken':
      return `slow first token ${f.ms} ms`;
    case 'drop':
    case 'stall':
    case 'malformed':
      return `${f.kind}@${f.after}`;
    default:
      return f.kind;
  }
}

async function chat(req: IncomingMessage, res: ServerResponse, raw: string): Promise<void> {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return sendJson(res, 400, errorBody(400, { message: 'We could not parse the JSON body of your request.' }));
  }
  const model = typeof body.model === 'string' ? body.model : 'unknown';
  const state = byModel.get(model) ?? fallbackScript;
  const { script, log, held } = state;
  const n = log.length + 1;
  const now = Date.now();
  let fault: Fault = script.faults[n - 1] ?? script.then;
  const down = now < script.downUntil;
  if (down) fault = { kind: 'status', status: 503, message: 'The server is overloaded or not ready yet.', type: 'server_error' };
  const stream = body.stream === true;
  const includeUsage = stream && (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const messages = Array.isArray(body.messages) ? (body.messages as { role?: unknown; content?: unknown }[]) : [];
  const last = messages[messages.length - 1];
  const prefill = last?.role === 'assistant' && typeof last.content === 'string' ? last.content : null;
  const full = canonicalText(script.chunks);
  const entry: RequestLog = {
    n,
    at: now,
    model,
    stream,
    prefillChars: prefill === null ? null : prefill.length,
    prefillOk: prefill === null ? null : full.startsWith(prefill),
    fault: down ? 'down 503' : describe(fault),
    status: null,
    contentSent: 0,
    completed: false,
  };
  log.push(entry);
  res.on('close', () => {
    held.delete(res);
    if (!res.writableFinished) entry.closedAt = Date.now();
  });
  res.on('finish', () => (entry.completed = true));

  if (fault.kind === 'reset') return void req.socket.destroy();
  if (fault.kind === 'hang') {
    held.add(res);
    return;
  }
  if (fault.kind === 'status') {
    entry.status = fault.status;
    const headers: Record<string, string> = {};
    if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
    if (fault.retryAfterMs !== undefined) headers['retry-after-ms'] = fault.retryAfterMs;
    if (fault.status === 429) Object.assign(headers, { 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-requests': '0' });
    return sendJson(res, fault.status, errorBody(fault.status, fault), headers);
  }
  if (fault.kind === 'rejectPrefill' && prefill !== null) {
    entry.status = 400;
    return sendJson(res, 400, errorBody(400, { message: 'This model does not support assistant message prefill. The conversation must end with a user message.', code: null }));
  }
  const parts = pieces(script.chunks, prefill === null ? 0 : Math.min(prefill.length, full.length));
  const id = `chatcmpl-fault${n}`;
  const usage = { prompt_tokens: FAULT_PROMPT_TOKENS, completion_tokens: parts.length, total_tokens: FAULT_PROMPT_TOKENS + parts.length };
  entry.status = 200;
  if (!stream) {
    entry.contentSent = parts.length;
    return sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created: 1_760_000_000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: parts.join(''), refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage,
      system_fingerprint: 'fp_fault',
    });
  }
  const head = { id, object: 'chat.completion.chunk', created: 1_760_000_000, model, system_fingerprint: 'fp_fault' };
  const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  const choice = (delta: unknown, finish: string | null = null) => data({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(includeUsage ? { usage: null } : {}) });
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write(choice({ role: 'assistant', content: '', refusal: null }));
  if (fault.kind === 'slowFirstToken') {
    held.add(res);
    await sleep(fault.ms);
    held.delete(res);
  }
  for (let i = 0; i < parts.length; i++) {
    if (res.destroyed) return;
    if (fault.kind === 'drop' && i === fault.after) {
      // What was written reaches the client first; then the connection is lost without a terminator.
      await sleep(20);
      return void res.socket?.destroy();
    }
    if (fault.kind === 'stall' && i === fault.after) {
      held.add(res);
      return;
    }
    if (fault.kind === 'malformed' && i === fault.after) {
      res.write(`data: {"id":"${id}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"BROKEN\n\n`);
      return void res.end();
    }
    res.write(choice({ content: parts[i] }));
    entry.contentSent++;
    if (script.intervalMs > 0 && i < parts.length - 1) await sleep(script.intervalMs);
  }
  if (res.destroyed) return;
  res.write(choice({}, 'stop'));
  if (includeUsage) res.write(data({ ...head, choices: [], usage }));
  if (fault.kind === 'noDone') return void res.end();
  res.end('data: [DONE]\n\n');
}

const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
  const url = req.url ?? '/';
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(parts).toString('utf8');
    const { pathname, searchParams } = new URL(url, 'http://x');
    if (req.method === 'POST' && pathname.endsWith('/chat/completions')) return void chat(req, res, raw);
    if (pathname === '/_fault/script' && req.method === 'PUT') {
      const next = scripted(JSON.parse(raw || '{}') as FaultScript);
      const model = searchParams.get('model');
      if (model === null) {
        release(fallbackScript);
        for (const x of byModel.values()) release(x);
        byModel.clear();
        fallbackScript = next;
      } else {
        const before = byModel.get(model);
        if (before) release(before);
        byModel.set(model, next);
      }
      return sendJson(res, 200, { ok: true });
    }
    if (pathname === '/_fault/log' && req.method === 'GET') {
      const all = [fallbackScript, ...byModel.values()].flatMap((x) => x.log).sort((a, b) => a.at - b.at);
      return sendJson(res, 200, { requests: all });
    }
    sendJson(res, 404, errorBody(404, { message: `no route ${req.method} ${url}` }));
  });
});
server.on('connection', (s: Socket) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
server.listen({ port: Number(values.port), host: values.host }, () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
const stop = () => {
  for (const s of sockets) s.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 300).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
