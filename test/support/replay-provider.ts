// An LLM server that replays recorded wire shapes: for each request, a script picks the status,
// headers and either a JSON body or the exact SSE frames to send. Where MockProvider generates the
// documented shapes of OpenAI, Anthropic and Gemini, this one sends what a test spells out byte for
// byte: the quirks of one server version, as its source or its issue tracker shows them.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Replay {
  status?: number;
  headers?: Record<string, string>;
  /** A complete (non-streamed) answer. */
  json?: unknown;
  /** SSE frames, each sent as written (include the blank line that ends an event). */
  frames?: string[];
}

export interface Recorded {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

export type ReplayScript = (req: Recorded) => Replay;

/** One `data:` event of a Chat Completions stream. */
export const data = (o: unknown): string => `data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`;
/** One named event (Anthropic Messages). */
export const named = (event: string, o: Record<string, unknown>): string => `event: ${event}\ndata: ${JSON.stringify({ type: event, ...o })}\n\n`;

export class ReplayProvider {
  readonly received: Recorded[] = [];
  url = '';
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly script: ReplayScript;

  constructor(script: ReplayScript) {
    this.script = script;
  }

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        body = {};
      }
      const rec: Recorded = { path: req.url ?? '/', headers: req.headers, body };
      this.received.push(rec);
      const r = this.script(rec);
      if (r.frames) {
        res.writeHead(r.status ?? 200, { 'content-type': 'text/event-stream', ...r.headers });
        for (const f of r.frames) res.write(f);
        res.end();
        return;
      }
      const text = JSON.stringify(r.json ?? {});
      res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
      res.end(text);
    });
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
}
