// The built-in demo backend: an in-process OpenAI-compatible model that streams deterministic
// text at a set token rate, so the quick start and the tests show real streaming with no keys and
// no network. The same prompt always gets the same answer, which also makes resume demonstrable:
// given a prefix of its answer as an assistant prefill, it continues exactly where that left off.
//
// A few model names are scripted to fail the way real providers do (see DEMO_SCRIPTS), so the
// recovery the sidecar does can be watched with nothing but `npm start`. A script depends only
// on the request and its attempt number, never on shared state, so it plays out the same way
// every time, for any number of concurrent requests.
import { createHash } from 'node:crypto';
import type { JsonObject } from '../chat/types.ts';
import type { UpstreamRequest } from '../providers/types.ts';
import { isObject } from '../wire/json.ts';
import { pause, type SendOptions, type Transport, type UpstreamResponse } from './transport.ts';

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

/**
 * What a demo model does, by the model name the backend is asked for:
 * - `cut`: the first attempt's stream breaks (connection reset) after `cutAfter` tokens; any later
 *   attempt answers normally, continuing an assistant prefix when it gets one (prefill).
 * - `rate-limit-once`: the first attempt gets 429 with `Retry-After: 1`; later attempts answer.
 * - `down`: every attempt finds the host refusing connections.
 * - `diverge`: like `cut`, but later attempts generate another answer: the same first
 *   `divergeAt` tokens, then different words, as a sampled model would (verify resume stops there).
 */
export type DemoScript = 'cut' | 'rate-limit-once' | 'down' | 'diverge';

export const DEMO_SCRIPTS: Readonly<Record<string, DemoScript>> = {
  'demo-flaky': 'cut',
  'demo-rate-limited': 'rate-limit-once',
  'demo-down': 'down',
  'demo-diverge': 'diverge',
};

/** Where a scripted stream breaks: a third of the answer, so both sides of the break are visible. */
export const cutAfter = (tokens: number): number => Math.max(1, Math.floor(tokens / 3));
/**
 * Tokens a diverging regeneration shares with the first answer before it goes another way: a few,
 * and always fewer than were delivered before the break, so verify has something to refuse.
 */
export const divergeAt = (tokens: number): number => Math.max(0, Math.min(6, cutAfter(tokens) - 1));
/** A refused connection still costs a round trip; this keeps the failed attempt visible on a timeline. */
const REFUSE_AFTER_MS = 80;

function lastUserText(body: JsonObject): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (isObject(m) && m.role === 'user') return typeof m.content === 'string' ? m.content : JSON.stringify(m.content);
  }
  return '';
}

/** Where a sentence starts, so every answer reads from the beginning of one. */
const STARTS = WORDS.flatMap((_, i) => (i === 0 || /\.$/.test(WORDS[i - 1]!) ? [i] : []));

const seedOf = (prompt: string): number => createHash('sha256').update(prompt).digest().readUInt32BE(0);
const wordsFrom = (start: number, count: number): string[] => Array.from({ length: count }, (_, i) => (i === 0 ? '' : ' ') + WORDS[(start + i) % WORDS.length]);

/** The demo's full answer to a prompt, as tokens (each but the first with its leading space). */
export function demoTokens(prompt: string, count: number): string[] {
  return wordsFrom(STARTS[seedOf(prompt) % STARTS.length]!, count);
}

/**
 * Another sample for the same prompt: the first divergeAt(count) tokens of demoTokens, then the
 * words of another sentence, guaranteed to differ at that token.
 */
export function divergentTokens(prompt: string, count: number): string[] {
  const first = demoTokens(prompt, count);
  const at = divergeAt(count);
  const startIndex = seedOf(prompt) % STARTS.length;
  for (let k = 1; k <= STARTS.length; k++) {
    const other = wordsFrom(STARTS[(startIndex + k) % STARTS.length]!, count - at).map((t, i) => (at + i === 0 ? '' : ' ') + t.trimStart());
    if (other.length === 0 || other[0] !== first[at]) return [...first.slice(0, at), ...other];
  }
  throw new Error('the demo text has a single sentence');
}

function assistantPrefix(body: JsonObject): string | undefined {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1];
  return isObject(last) && last.role === 'assistant' && typeof last.content === 'string' ? last.content : undefined;
}

/** Continue after an assistant prefix the way a real model does: only what follows it. */
function after(tokens: readonly string[], prefix: string): string[] {
  const pieces: string[] = [];
  let consumed = 0;
  for (const t of tokens) {
    const end = consumed + t.length;
    if (end > prefix.length) pieces.push(consumed < prefix.length ? t.slice(prefix.length - consumed) : t);
    consumed = end;
  }
  return pieces;
}

const encoder = new TextEncoder();
const json = (status: number, body: unknown, headers: Record<string, string> = {}): UpstreamResponse => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: (async function* () {
    yield encoder.encode(JSON.stringify(body));
  })(),
  discard: () => undefined,
});

/** What a socket error looks like to the attempt (Node's errno codes), so it is classified like a real one. */
const socketError = (code: 'ECONNREFUSED' | 'ECONNRESET', message: string) => Object.assign(new Error(message), { code });

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
    const script = DEMO_SCRIPTS[model];
    const first = (opts.attempt ?? 1) === 1;
    if (script === 'down') {
      await pause(REFUSE_AFTER_MS, opts.cancel);
      throw socketError('ECONNREFUSED', `connect ECONNREFUSED ${url.hostname}`);
    }
    if (script === 'rate-limit-once' && first)
      return json(
        429,
        {
          error: {
            message: `Rate limit reached for ${model} on requests per min (RPM): Limit 1, Used 1, Requested 1. Please try again in 1s.`,
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
        { 'retry-after': '1', 'x-ratelimit-limit-requests': '1', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1s' },
      );
    if (url.pathname.endsWith('/embeddings')) return json(200, embeddings(body, model));

    const prompt = lastUserText(body);
    const all = script === 'diverge' && !first ? divergentTokens(prompt, tokens) : demoTokens(prompt, tokens);
    const pieces = after(all, assistantPrefix(body) ?? '');
    // The first attempt of a cut script breaks after this many pieces (undefined: it does not break).
    const breakAt = (script === 'cut' || script === 'diverge') && first ? Math.min(cutAfter(tokens), pieces.length) : undefined;
    const usage = { prompt_tokens: Math.ceil(JSON.stringify(body.messages ?? '').length / 4), completion_tokens: pieces.length, total_tokens: 0 };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const id = `chatcmpl-demo${createHash('sha1').update(req.body).digest('hex').slice(0, 12)}`;
    const created = Math.floor(Date.now() / 1000);
    const interval = 1000 / tokensPerSecond;
    const cancel = opts.cancel;
    if (body.stream !== true) {
      await pause(interval * (breakAt ?? pieces.length), cancel);
      // A complete answer cut short never reaches the client: the connection resets before the body.
      if (breakAt !== undefined) throw socketError('ECONNRESET', 'socket hang up');
      return json(200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: 'stop', logprobs: null }],
        usage,
      });
    }
    const chunk = (choices: unknown[], extra: JsonObject = {}) =>
      encoder.encode(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`);
    async function* stream(): AsyncGenerator<Uint8Array> {
      yield chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
      for (const [i, piece] of pieces.entries()) {
        await pause(interval, cancel);
        if (i === breakAt) throw socketError('ECONNRESET', 'read ECONNRESET');
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
