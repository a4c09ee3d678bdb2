// Every fault x every resume strategy x {OpenAI SDK, Anthropic SDK}. Each case names the fault,
// where it happens, what the client must see, and what must never happen (a repeated or missing
// token, or two generations joined).
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { MockProvider, chunkText, type Fault, resetMocks } from '../support/mock-provider.ts';
import { streamWith, type ClientKind, type Transcript } from '../support/clients.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const CANONICAL =
  'Checkpoints let a proxy resume a broken stream from a known boundary, so the reader never sees a word twice and never loses one either, even when the provider fails halfway through the answer.';
const WORDS = chunkText(CANONICAL);
const CUT = 5; // mid-stream faults strike after this many content chunks
const DELIVERED = WORDS.slice(0, CUT).join('');

let a: MockProvider;
let b: MockProvider;
let sc: TestSidecar;
const STRATEGIES = ['none', 'prefill', 'verify'] as const;
const CLIENTS: ClientKind[] = ['openai', 'anthropic'];

beforeAll(async () => {
  a = await new MockProvider().start();
  b = await new MockProvider().start();
  // Circuit breaking has its own tests; here it must not carry one case's failures into the next.
  const circuit = { consecutiveFailures: 1000, minimumRequests: 100000 };
  const backend = (name: string, m: MockProvider, kind: ClientKind) =>
    kind === 'openai' ? { name, type: 'openai-compatible', baseURL: `${m.url}/v1`, circuit } : { name, type: 'anthropic', baseURL: m.url, circuit };
  sc = await testSidecar({
    backends: CLIENTS.flatMap((k) => [backend(`a-${k}`, a, k), backend(`b-${k}`, b, k)]),
    routes: CLIENTS.flatMap((k) =>
      STRATEGIES.map((s) => ({
        model: `${k}-${s}`,
        backends: [
          { backend: `a-${k}`, model: 'model-a' },
          { backend: `b-${k}`, model: 'model-b' },
        ],
        retry: { attempts: 2, backoff: { baseMs: 5, maxMs: 20 } },
        timeouts: { connectMs: 500, firstTokenMs: 400, idleMs: 300, totalMs: 15000 },
        resume: s,
      })),
    ),
  });
});
afterAll(async () => {
  await sc?.close();
  await a?.stop();
  await b?.stop();
});
beforeEach(() => resetMocks({ text: CANONICAL, inputTokens: 12 }, a, b));

/** The invariant every transcript must satisfy, whatever happened. */
function expectNeverDuplicatedOrSpliced(t: Transcript) {
  expect(t.deltas.join('')).toBe(t.text);
  expect(CANONICAL.startsWith(t.text), `client text is not a prefix of the canonical answer: ${JSON.stringify(t.text)}`).toBe(true);
  if (t.completed) expect(t.text).toBe(CANONICAL);
  else expect(t.error, 'an incomplete stream must end with an explicit error').toBeDefined();
}

const PRE_FIRST_BYTE: [string, Fault, string][] = [
  ['429 with retry-after-ms', { status: 429, retryAfterMs: '20' }, 'retried on the same backend'],
  ['500 once', { status: 500 }, 'retried on the same backend'],
  ['529 overloaded', { status: 529, type: 'overloaded_error' }, 'retried on the same backend'],
  ['reset before headers', { reset: 'before-headers' }, 'retried on the same backend'],
  ['slow first token past firstTokenMs (headers, then silence)', { slowFirstTokenMs: 700 }, 'abandoned, the fallback answers'],
  ['no response headers within firstTokenMs', { hang: 'before-headers' }, 'abandoned, the fallback answers'],
];

const MID_STREAM: [string, Fault][] = [
  ['connection dropped', { dropAfter: CUT }],
  ['stream stalls past idleMs', { stallAfter: CUT }],
  ['malformed chunk', { malformedAfter: CUT }],
  ['provider error event', { errorEventAfter: CUT }],
];

describe.each(CLIENTS)('%s SDK client', (client) => {
  describe.each(STRATEGIES)('resume: %s', (strategy) => {
    const model = `${client}-${strategy}`;

    test.each(PRE_FIRST_BYTE)('%s before the first byte -> complete answer (%s); never a second stream', async (_name, fault, how) => {
      a.faults = [fault];
      const t = await streamWith(client, sc.dataURL, { model });
      expectNeverDuplicatedOrSpliced(t);
      expect(t.completed).toBe(true);
      if (how.startsWith('abandoned')) {
        expect(a.received).toHaveLength(1); // never retried: a silent backend costs one timeout, not three
        expect(b.received).toHaveLength(1);
        expect(t.model).toBe('model-b');
      } else {
        expect(a.received).toHaveLength(2);
        expect(b.received).toHaveLength(0);
      }
    });

    test.each(MID_STREAM)(`%s after ${CUT} chunks -> ${strategy === 'none' ? 'the delivered prefix, then an explicit error' : 'one seamless complete answer'}; never a repeated token`, async (_name, fault) => {
      a.faults = [fault];
      const t = await streamWith(client, sc.dataURL, { model });
      expectNeverDuplicatedOrSpliced(t);
      if (strategy === 'none') {
        expect(t.completed).toBe(false);
        expect(t.text).toBe(DELIVERED);
        expect(t.error!.message).toContain(`after ${DELIVERED.length} delivered characters`);
        expect(a.received).toHaveLength(1);
        return;
      }
      expect(t.completed).toBe(true);
      expect(t.text).toBe(CANONICAL);
      expect(t.usage).toEqual({ input: 12, output: strategy === 'prefill' ? WORDS.length - CUT : WORDS.length });
      const continuation = a.received[1]!.body;
      const messages = continuation.messages as { role: string; content: unknown }[];
      if (strategy === 'prefill') {
        // Continued from the delivered text, sent without its trailing whitespace.
        expect(messages.at(-1)).toEqual({ role: 'assistant', content: DELIVERED.trimEnd() });
        if (client === 'openai') expect(continuation).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
      } else {
        expect(messages.at(-1)!.role).toBe('user');
      }
    });
  });

  test('verify: the regenerated answer diverges from what was delivered -> explicit stream_diverged error, never the other text', async () => {
    a.faults = [{ dropAfter: CUT }, { diverge: 'A completely different answer that shares nothing with the first one.' }];
    const t = await streamWith(client, sc.dataURL, { model: `${client}-verify` });
    expectNeverDuplicatedOrSpliced(t);
    expect(t.completed).toBe(false);
    expect(t.text).toBe(DELIVERED);
    expect(t.error!.message).toMatch(/diverged/);
    expect(t.text).not.toContain('completely different');
  });

  test('a stream that ends without its terminator but is otherwise complete is finalised at once, with usage', async () => {
    a.faults = [{ noTerminator: true }];
    const started = Date.now();
    const t = await streamWith(client, sc.dataURL, { model: `${client}-prefill` });
    expect(t.completed).toBe(true);
    expect(t.text).toBe(CANONICAL);
    expect(t.usage).toEqual({ input: 12, output: WORDS.length });
    expect(Date.now() - started).toBeLessThan(300); // not held until idleMs
    expect(a.received).toHaveLength(1);
  });

  test('the fallback rejects the assistant prefix during a resume -> it restarts cleanly (verify) and completes; its 400 never reaches the client', async () => {
    // a drops mid-stream, then fails the continuation twice (its retries), so b continues; b refuses prefill.
    a.faults = [{ dropAfter: CUT }, { status: 503 }, { status: 503 }];
    b.faults = [{ rejectPrefill: true }];
    const t = await streamWith(client, sc.dataURL, { model: `${client}-prefill` });
    expectNeverDuplicatedOrSpliced(t);
    expect(t.completed).toBe(true);
    expect(t.text).toBe(CANONICAL);
    expect(b.received).toHaveLength(2);
    const [rejected, clean] = b.received.map((r) => r.body.messages as { role: string }[]);
    expect(rejected!.at(-1)!.role).toBe('assistant');
    expect(clean!.at(-1)!.role).toBe('user');
  });
});

test('resume after a mid-stream failure on the primary continues on the fallback when the primary stays down; the client sees the fallback model', async () => {
  a.faults = [{ dropAfter: CUT }, { status: 500 }, { status: 500 }];
  const t = await streamWith('openai', sc.dataURL, { model: 'openai-prefill' });
  expectNeverDuplicatedOrSpliced(t);
  expect(t.completed).toBe(true);
  expect(t.model).toBe('model-b');
  expect((b.received[0]!.body.messages as { role: string; content: string }[]).at(-1)).toEqual({ role: 'assistant', content: DELIVERED.trimEnd() });
});

test('resumes are bounded: a backend that drops every continuation ends with an explicit error, not a loop', async () => {
  a.faults = Array.from({ length: 10 }, () => ({ dropAfter: 1 }));
  b.faults = Array.from({ length: 10 }, () => ({ dropAfter: 1 }));
  const t = await streamWith('openai', sc.dataURL, { model: 'openai-verify' });
  expectNeverDuplicatedOrSpliced(t);
  expect(t.completed).toBe(false);
  expect(t.error!.message).toMatch(/resumes already tried|no backend could continue/);
  expect(a.received.length + b.received.length).toBeLessThan(12);
});

test.each(CLIENTS)('%s client: a stream cut while tool-call arguments stream -> explicit error; the arguments are never spliced from two attempts', async (client) => {
  a.answer = { text: '', toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"query":"a fairly long argument string","limit":10}' }] };
  a.faults = [{ dropAfter: 3 }];
  const model = `${client}-prefill`;
  let err: unknown;
  let args = '';
  try {
    if (client === 'openai') {
      const { default: OpenAI } = await import('openai');
      const s = await new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'x', maxRetries: 0 }).chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'go' }] });
      for await (const c of s) args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    } else {
      const { default: Anthropic } = await import('@anthropic-ai/sdk');
      const s = new Anthropic({ baseURL: sc.dataURL, apiKey: 'x', maxRetries: 0 }).messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: 'go' }] });
      s.on('inputJson', (d) => (args += d));
      await s.finalMessage();
    }
  } catch (e) {
    err = e;
  }
  expect(err).toBeDefined();
  expect(String((err as Error).message)).toMatch(/tool call was in progress/);
  expect('{"query":"a fairly long argument string","limit":10}'.startsWith(args)).toBe(true);
  expect(args.length).toBeLessThan(50);
  expect(a.received).toHaveLength(1); // no continuation was even attempted
});
