// Faults on a Responses stream, seen through the official SDK: before the first byte a failure is
// retried or falls back and the client sees one stream; after it, the stream is recovered from
// its checkpoint under the route's resume strategy, or ends with response.failed and an error the
// SDK raises. Never a duplicated delta, never a gap in sequence numbers, never two responses.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';
import { MockProvider, chunkText, resetMocks, sleep, type Fault } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const CANONICAL = 'A resumed stream continues from the last delivered word, so the reader never sees a word twice and never misses one.';
const CUT = 5;
const DELIVERED = chunkText(CANONICAL).slice(0, CUT).join('');

let a: MockProvider;
let b: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  a = await new MockProvider().start();
  b = await new MockProvider().start();
  const circuit = { consecutiveFailures: 1000, minimumRequests: 100000 };
  const retry = { attempts: 2, backoff: { baseMs: 5, maxMs: 20 } };
  const timeouts = { connectMs: 500, firstTokenMs: 1000, idleMs: 400, totalMs: 15000 };
  sc = await testSidecar({
    backends: [
      { name: 'a-compat', type: 'openai-compatible', baseURL: `${a.url}/v1`, circuit },
      { name: 'b-compat', type: 'openai-compatible', baseURL: `${b.url}/v1`, circuit },
      { name: 'a-openai', type: 'openai', baseURL: `${a.url}/v1`, circuit },
      { name: 'a-claude', type: 'anthropic', baseURL: a.url, circuit },
    ],
    routes: [
      { model: 'translated-prefill', backends: [{ backend: 'a-compat' }, { backend: 'b-compat' }], retry, timeouts, resume: 'prefill' },
      { model: 'translated-none', backends: [{ backend: 'a-compat' }, { backend: 'b-compat' }], retry, timeouts, resume: 'none' },
      { model: 'claude-prefill', backends: [{ backend: 'a-claude' }], retry, timeouts, resume: 'prefill' },
      { model: 'passthrough-verify', backends: [{ backend: 'a-openai' }], retry, timeouts, resume: 'verify' },
    ],
  });
});

afterAll(async () => {
  await sc?.close();
  await a?.stop();
  await b?.stop();
});

beforeEach(() => resetMocks({ text: CANONICAL, inputTokens: 12 }, a, b));

interface Transcript {
  deltas: string[];
  seqs: number[];
  created: number;
  final?: OpenAI.Responses.Response;
  error?: unknown;
  requestId?: string;
}

async function stream(model: string, background = false): Promise<Transcript> {
  const t: Transcript = { deltas: [], seqs: [], created: 0 };
  const client = new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  try {
    const s = client.responses.stream({ model, input: 'Tell me about resuming.', background });
    for await (const ev of s) {
      t.seqs.push(ev.sequence_number);
      if (ev.type === 'response.created') t.created++;
      if (ev.type === 'response.output_text.delta') t.deltas.push(ev.delta);
    }
    t.final = await s.finalResponse();
  } catch (err) {
    t.error = err;
  }
  return t;
}

/** What must hold whatever happened: numbering without a gap, one response, text a prefix of the answer, an incomplete one ending in an error. */
function expectNeverDuplicatedOrSpliced(t: Transcript) {
  expect(t.seqs).toEqual(t.seqs.map((_, i) => i));
  expect(t.created).toBe(1);
  const text = t.deltas.join('');
  expect(CANONICAL.startsWith(text), `not a prefix of the answer: ${JSON.stringify(text)}`).toBe(true);
  if (t.final && !t.error) {
    expect(text).toBe(CANONICAL);
    expect(t.final.output_text).toBe(CANONICAL);
  } else expect(t.error, 'an incomplete stream must end with an explicit error').toBeDefined();
}

async function lifecycleOf(requestId: string): Promise<LifecycleEvent[]> {
  const sse = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${requestId}/events`)).text();
  return [...sse.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as LifecycleEvent);
}

describe('before the first byte', () => {
  test.each<[string, Fault]>([
    ['429 with retry-after-ms', { status: 429, retryAfterMs: '10' }],
    ['500', { status: 500 }],
    ['reset before headers', { reset: 'before-headers' }],
  ])('%s → retried; the client gets one complete stream; never a second response.created', async (_name, fault) => {
    a.faults = [fault];
    const t = await stream('translated-prefill');
    expectNeverDuplicatedOrSpliced(t);
    expect(t.final?.status).toBe('completed');
    expect(a.received).toHaveLength(2);
  });

  test('429 on every try of the primary → the fallback answers the whole stream; never a second response', async () => {
    a.faults = [{ status: 429 }, { status: 429 }];
    const t = await stream('translated-prefill');
    expectNeverDuplicatedOrSpliced(t);
    expect(t.final?.output_text).toBe(CANONICAL);
    expect(b.received).toHaveLength(1);
  });
});

describe('mid-stream', () => {
  test('connection cut after 5 deltas, resume: prefill → the rest continues the same message; never a repeated word', async () => {
    a.faults = [{ dropAfter: CUT }];
    const t = await stream('translated-prefill');
    expectNeverDuplicatedOrSpliced(t);
    expect(t.final?.output).toHaveLength(1);
    // the continuation was asked to continue what the client already had
    const retry = a.received[1] ?? b.received[0];
    expect((retry!.body.messages as { role: string; content: string }[]).at(-1)).toEqual({ role: 'assistant', content: DELIVERED.trimEnd() });
  });

  test('Anthropic stream cut (provider error event) → resumed by prefill; one message, the whole text once', async () => {
    a.faults = [{ errorEventAfter: CUT }];
    const t = await stream('claude-prefill');
    expectNeverDuplicatedOrSpliced(t);
    expect(t.final?.status).toBe('completed');
    expect(a.received).toHaveLength(2);
    expect((a.received[1]!.body.messages as { role: string }[]).at(-1)!.role).toBe('assistant');
  });

  test('OpenAI passthrough cut, resume: verify → the upstream bytes, then the verified continuation numbered on from them', async () => {
    a.faults = [{ dropAfter: CUT }];
    const t = await stream('passthrough-verify');
    expectNeverDuplicatedOrSpliced(t);
    expect(t.final?.status).toBe('completed');
    expect(a.received).toHaveLength(2);
  });

  test('stall past idleMs, resume: none → response.failed and an error the SDK raises, saying what was delivered; never silence', async () => {
    a.faults = [{ stallAfter: CUT }];
    const t = await stream('translated-none');
    expectNeverDuplicatedOrSpliced(t);
    expect(t.deltas.join('')).toBe(DELIVERED);
    expect(t.error).toBeInstanceOf(OpenAI.APIError);
    expect((t.error as Error).message).toMatch(/stream interrupted after \d+ delivered characters/);
  });

  test('a tool call cut mid-arguments → an explicit failure, never a spliced call', async () => {
    a.answer = { text: '', toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"query":"a fairly long query string"}' }] };
    a.faults = [{ dropAfter: 2 }];
    const t = await stream('translated-prefill');
    expect(t.error).toBeInstanceOf(OpenAI.APIError);
    expect((t.error as Error).message).toMatch(/tool call was in progress/);
  });

  test('background response cut mid-stream → recovered on the sidecar; its replayed stream has the whole text once, numbered without a gap', async () => {
    a.answer = { text: CANONICAL, intervalMs: 5 };
    a.faults = [{ dropAfter: CUT }];
    const t = await stream('translated-prefill', true);
    expectNeverDuplicatedOrSpliced(t);
    const requestId = t.final!.id.slice('resp_'.length).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    while ((await lifecycleOf(requestId)).at(-1)?.type !== 'request.completed') await sleep(10);
    const events = await lifecycleOf(requestId);
    expect(events.filter((e) => e.type === 'stream.resumed')).toHaveLength(1);
  });
});
