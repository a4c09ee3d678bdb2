// A scripted OpenAI Chat Completions upstream for the hardening tests: each test says, per request,
// exactly which bytes go back (chunks, errors, oversized answers, pauses), in the provider's own
// documented wire format. It is the true boundary of these tests; everything else is real.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export type Script = (res: ServerResponse, req: Received) => void | Promise<void>;

export class ScriptedUpstream {
  readonly received: Received[] = [];
  /** Answers the next requests, one script each; past the queue, `fallback`. */
  readonly queue: Script[] = [];
  fallback: Script = (res) => json(res, 200, chatCompletion('ok'));
  url = '';
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  reset(): void {
    this.received.length = 0;
    this.queue.length = 0;
    this.fallback = (res) => json(res, 200, chatCompletion('ok'));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      body = {};
    }
    const rec = { path: req.url ?? '/', headers: req.headers, body };
    this.received.push(rec);
    res.on('error', () => undefined);
    await (this.queue.shift() ?? this.fallback)(res, rec);
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function chatCompletion(text: string, usage = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 }): Record<string, unknown> {
  return {
    id: 'chatcmpl-scripted',
    object: 'chat.completion',
    created: 1700000000,
    model: 'scripted',
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage,
  };
}

/** One `chat.completion.chunk` SSE frame carrying `text`. */
export function chunk(text: string, finish: string | null = null): string {
  const delta = finish ? {} : { content: text };
  return `data: ${JSON.stringify({ id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 1700000000, model: 'scripted', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

export const DONE = `${chunk('', 'stop')}data: [DONE]\n\n`;

export function openStream(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Until the response can take more, or is gone (listeners removed either way). */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
