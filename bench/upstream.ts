// Mock OpenAI-compatible upstream for the benchmark, a process of its own so that its CPU is not
// the sidecar's. `POST /v1/chat/completions`, streamed or not, with chunks shaped like OpenAI's
// (role chunk, one content chunk per token, finish chunk, usage chunk when
// `stream_options.include_usage`, `data: [DONE]`). Deterministic: the answer is always a prefix
// of `canonicalText(chunks)`; faults are chosen by the attempt's ordinal, not by chance.
//
// A trailing assistant message with `continue_final_message: true` (what the sidecar sends to an
// openai-compatible backend to resume by prefill, vLLM's spelling) is continued from where its
// text ends, as a real model would.
//
// Control: `PUT /_mock/mode` (JSON, merged into the mode; `{"reset": true}` zeroes the counters),
// `GET /_mock/stats`. Usage: node bench/upstream.ts --port N [--host 127.0.0.1]
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_MODE, canonicalText, pieces, type MockMode, type MockStats } from './lib/common.ts';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

let mode: MockMode = { ...DEFAULT_MODE };
const zero = (): MockStats => ({ requests: 0, streams: 0, faults429: 0, drops: 0, prefills: 0, prefillMismatches: 0, aborted: 0 });
let stats = zero();
/** Attempts since the last reset: the fault schedule's clock. */
let attempts = 0;

const PHI = (Math.sqrt(5) - 1) / 2;
/** Attempt k's fault: a low-discrepancy sequence, so any window of attempts has close to the configured shares. */
function faultFor(k: number): '429' | 'drop' | undefined {
  const u = (k * PHI) % 1;
  if (u < mode.fault429) return '429';
  if (u < mode.fault429 + mode.faultDrop) return 'drop';
  return undefined;
}

const CREATED = 1_760_000_000;
const USAGE_PROMPT = 31;

function usageJson(completion: number): string {
  return `{"prompt_tokens":${USAGE_PROMPT},"completion_tokens":${completion},"total_tokens":${USAGE_PROMPT + completion},"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`;
}


const whole = new Map<number, string[]>();
function answer(n: number, from: number): string[] {
  if (from > 0) return pieces(n, from);
  let p = whole.get(n);
  if (!p) whole.set(n, (p = pieces(n, 0)));
  return p;
}

function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function rateLimited(res: ServerResponse): void {
  const headers: Record<string, string> = { 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-requests': '0' };
  if (mode.retryAfterMs !== undefined) headers['retry-after-ms'] = String(mode.retryAfterMs);
  sendJson(
    res,
    429,
    '{"error":{"message":"Rate limit reached for requests. Please try again in 20ms.","type":"requests","param":null,"code":"rate_limit_exceeded"}}',
    headers,
  );
}

function chat(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  } catch {
    return sendJson(res, 400, '{"error":{"message":"We could not parse the JSON body of your request.","type":"invalid_request_error","param":null,"code":null}}');
  }
  const k = ++attempts;
  stats.requests++;
  const m = mode;
  const model = typeof body.model === 'string' ? body.model : 'unknown';
  const stream = body.stream === true;
  const so = body.stream_options as { include_usage?: unknown } | undefined;
  const includeUsage = stream && so?.include_usage === true;
  // Prefill: continue the trailing assistant message from where its text ends.
  let from = 0;
  const messages = Array.isArray(body.messages) ? (body.messages as { role?: unknown; content?: unknown }[]) : [];
  const last = messages[messages.length - 1];
  if (body.continue_final_message === true && last?.role === 'assistant' && typeof last.content === 'string') {
    stats.prefills++;
    const full = canonicalText(m.chunks);
    if (!full.startsWith(last.content)) stats.prefillMismatches++;
    from = Math.min(last.content.length, full.length);
  }
  const parts = answer(m.chunks, from);
  const fault = faultFor(k);
  const id = `chatcmpl-bench${k}`;
  let closed = false;
  let dropped = false;
  res.on('close', () => {
    if (!res.writableFinished && !dropped) {
      closed = true;
      stats.aborted++;
    }
  });

  const start = () => {
    if (closed) return;
    if (fault === '429') {
      stats.faults429++;
      return rateLimited(res);
    }
    if (!stream) {
      const text = parts.join('');
      const out = `{"id":"${id}","object":"chat.completion","created":${CREATED},"model":${JSON.stringify(model)},"choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(text)},"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":${usageJson(parts.length)},"service_tier":"default","system_fingerprint":"fp_bench"}`;
      if (fault === 'drop') {
        stats.drops++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        dropped = true;
        res.write(out.slice(0, out.length >> 1));
        res.socket?.destroySoon();
        return;
      }
      return sendJson(res, 200, out);
    }
    stats.streams++;
    const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${CREATED},"model":${JSON.stringify(model)},"service_tier":"default","system_fingerprint":"fp_bench","choices":[`;
    // OpenAI pads each chunk with an opaque \`obfuscation\` string; the mock puts its send time
    // there (epoch ms), so the client can tell its own delay from the upstream's timer jitter.
    const tail = () => `${includeUsage ? ',"usage":null' : ''},"obfuscation":"t${(performance.timeOrigin + performance.now()).toFixed(3)}"}\n\n`;
    const dropAfter = fault === 'drop' ? Math.max(1, Math.floor(parts.length * m.dropAt)) : -1;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': id });
    res.write(`${head}{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]${tail()}`);
    let i = 0;
    const t0 = performance.now();
    /** Writes content chunk i; false once the stream is over (finished or dropped). */
    const one = (): boolean => {
      res.write(`${head}{"index":0,"delta":{"content":${JSON.stringify(parts[i])}},"logprobs":null,"finish_reason":null}]${tail()}`);
      i++;
      if (i === dropAfter) {
        stats.drops++;
        dropped = true;
        // What was written still reaches the client; then the connection closes without a terminator.
        res.socket?.destroySoon();
        return false;
      }
      if (i < parts.length) return true;
      res.write(`${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]${tail()}`);
      if (includeUsage)
        res.write(`${head}],"usage":${usageJson(parts.length)}}\n\n`);
      res.end('data: [DONE]\n\n');
      return false;
    };
    if (parts.length === 0) {
      res.write(`${head}{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]${tail()}`);
      if (includeUsage) res.write(`${head}],"usage":${usageJson(0)}}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    // Content chunk i is due at a fixed offset from the first (timer lateness does not accumulate).
    const due = (k: number) => (k === 0 ? 0 : m.firstGapMs > 0 ? m.firstGapMs + (k - 1) * m.intervalMs : k * m.intervalMs);
    const tick = () => {
      if (closed) return;
      const elapsed = performance.now() - t0;
      while (due(i) <= elapsed) if (closed || !one()) return;
      setTimeout(tick, Math.max(0, due(i) - (performance.now() - t0)));
    };
    tick();
  };
  if (m.delayMs > 0) setTimeout(start, m.delayMs);
  else start();
}

const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0, noDelay: true }, (req, res) => {
  const url = req.url ?? '/';
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    const raw = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (req.method === 'POST' && url === '/v1/chat/completions') return chat(req, res, raw);
    if (url === '/_mock/mode' && req.method === 'PUT') {
      const patch = JSON.parse(raw.toString('utf8') || '{}') as Partial<MockMode> & { reset?: boolean };
      const { reset, ...rest } = patch;
      mode = { ...mode, ...rest };
      if (reset) {
        stats = zero();
        attempts = 0;
      }
      return sendJson(res, 200, JSON.stringify(mode));
    }
    if (url === '/_mock/stats' && req.method === 'GET') return sendJson(res, 200, JSON.stringify({ ...stats, attempts }));
    sendJson(res, 404, '{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}');
  });
});
server.listen({ port: Number(values.port), host: values.host, backlog: 4096 }, () => {
  const port = (server.address() as AddressInfo).port;
  // The orchestrator reads this line to learn the port.
  process.stdout.write(`listening ${port}\n`);
});
const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Die with the orchestrator even if it could not signal us.
process.on('disconnect', stop);
