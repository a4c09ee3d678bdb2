// The built-in demo backend: an in-process OpenAI-compatible model that streams deterministic
// text at a set token rate, so the quick start and the tests show real streaming with no keys and
// no network. The same prompt always gets the same answer, which also makes resume demonstrable:
// given a prefix of its answer as an assistant prefill, it continues exactly where that left off.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonObject } from '../chat/types.ts';
import type { UpstreamRequest } from '../providers/types.ts';
import { isObject } from '../wire/json.ts';
import type { SendOptions, Transport, UpstreamResponse } from './transport.ts';

const WORDS = (
  'airoute keeps every request explicit: it retries before the first byte with backoff, falls back ' +
  'across providers when one is down, and once tokens reach you it records checkpoints, so a stream ' +
  'that breaks resumes from a safe boundary without repeating a single token. Every attempt, retry, ' +
  'fallback and resume is an event you can follow, and a metric you can graph.'
).split(' ');

export interface DemoSettings {
  tokens: number;
  tokensPerSecond: number;
}

function lastUserText(body: JsonObject): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (isObject(m) && m.role === 'user') return typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
  }
  return '';
}

/** The demo's full answer to a prompt, as tokens (each but the first with its leading space). */
/** Where a sentence starts, so every answer reads from the beginning of one. */
const STARTS = WORDS.flatMap((_, i) => (i === 0 || /\.$/.test(WORDS[i - 1]!) ? [i] : []));

export function demoTokens(prompt: string, count: number): string[] {
  const seed = createHash('sha256').update(prompt).digest().readUInt32BE(0);
  const start = STARTS[seed % STARTS.length]!;
  return Array.from({ length: count }, (_, i) => (i === 0 ? '' : ' ') + WORDS[(start + i) % WORDS.length]);
}

function assistantPrefix(body: JsonObject): string | undefined {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  return isObject(last) && last.role === 'assistant' && typeof last.content === 'string' ? last.content : undefined;
}

const encoder = new TextEncoder();
const json = (status: number, body: unknown): UpstreamResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: (async function* () {
    yield encoder.encode(JSON.stringify(body));
  })(),
  discard: () => undefined,
});

export class DemoTransport implements Transport {
  private readonly settings: (backendName: string) => DemoSettings;

  constructor(settings: (backendName: string) => DemoSettings) {
    this.settings = settings;
  }

  async send(req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const url = new URL(req.url);
    const { tokens, tokensPerSecond } = this.settings(url.hostname);
    const body = JSON.parse(req.body) as JsonObject;
    const model = typeof body.model === 'string' ? body.model : 'demo';
    if (url.pathname.endsWith('/embeddings')) return json(200, embeddings(body, model));
    const all = demoTokens(lastUserText(body), tokens);
    // Continue after an assistant prefix the way a real model does: only what follows it.
    const skip = assistantPrefix(body) ?? '';
    const pieces: string[] = [];
    let consumed = 0;
    for (const t of all) {
      const end = consumed + t.length;
      if (end <= skip.length) {
        consumed = end;
        continue;
      }
      pieces.push(consumed < skip.length ? t.slice(skip.length - consumed) : t);
      consumed = end;
    }
    const usage = { prompt_tokens: Math.ceil(JSON.stringify(body.messages ?? '').length / 4), completion_tokens: pieces.length, total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-demo${createHash('sha1').update(req.body).digest('hex').slice(0, 12)}`;
    const created = Math.floor(Date.now() / 1000);
    const interval = 1000 / tokensPerSecond;
    if (body.stream !== true) {
      await sleep(interval * pieces.length, undefined, { signal: opts.signal });
      return json(200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: 'stop', logprobs: null }],
        usage,
      });
    }
    const signal = opts.signal;
    const chunk = (choices: unknown[], extra: JsonObject = {}) =>
      encoder.encode(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`);
    async function* stream(): AsyncGenerator<Uint8Array> {
      yield chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
      for (const piece of pieces) {
        await sleep(interval, undefined, { signal });
        yield chunk([{ index: 0, delta: { content: piece }, finish_reason: null }]);
      }
      yield chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
      yield chunk([], { usage });
      yield encoder.encode('data: [DONE]\n\n');
    }
    return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: stream(), discard: () => undefined };
  }
}

function embeddings(body: JsonObject, model: string): JsonObject {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const dims = typeof body.dimensions === 'number' ? body.dimensions : 8;
  return {
    object: 'list',
    model,
    data: inputs.map((input, index) => {
      const h = createHash('sha256').update(JSON.stringify(input)).digest();
      return { object: 'embedding', index, embedding: Array.from({ length: dims }, (_, i) => (h[i % h.length]! - 128) / 128) };
    }),
    usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
  };
}
