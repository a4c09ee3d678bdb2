// The demo routes `npm start` serves with no config, driven by the official OpenAI SDK: each
// plays its scripted fault, and the sidecar's recovery is what the client and the events show.
// Each scripted route is run several times at once: a script depends on nothing but its own
// request, so concurrency must not change what happens.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_ROUTES } from '../sidecar/config/demo.ts';
import { cutAfter, demoTokens, divergeAt, divergentTokens } from '../sidecar/upstream/demo.ts';
import { DEFAULTS } from '../api/v1alpha1/config.ts';
import { streamWith, type Transcript } from './support/clients.ts';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

interface Event {
  seq: number;
  attempt: number;
  type: string;
  data: Record<string, unknown>;
}

let sc: TestSidecar;
const PROMPT = 'Show me what happens when things go wrong.';
const ANSWER = demoTokens(PROMPT, DEFAULTS.demo.tokens);
const DELIVERED_BEFORE_CUT = ANSWER.slice(0, cutAfter(DEFAULTS.demo.tokens)).join('');
const CONCURRENT = 4;

beforeAll(async () => {
  sc = await testSidecar(undefined); // no config: the demo, as `npm start` runs it
});

afterAll(async () => {
  await sc?.close();
});

async function events(t: Transcript): Promise<Event[]> {
  const id = t.headers?.get('x-airoute-request-id');
  if (!id) throw new Error('no x-airoute-request-id on the response');
  const text = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}/events`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as Event);
}

const ofType = (evs: Event[], type: string) => evs.filter((e) => e.type === type);

/** Runs `n` identical streams of a route at once; each with its events. */
async function run(model: string, n = CONCURRENT): Promise<{ t: Transcript; evs: Event[] }[]> {
  const ts = await Promise.all(Array.from({ length: n }, () => streamWith('openai', sc.dataURL, { model, prompt: PROMPT })));
  return Promise.all(ts.map(async (t) => ({ t, evs: await events(t) })));
}

test('GET /v1/models lists every demo route', async () => {
  const models = (await (await fetch(`${sc.dataURL}/v1/models`)).json()) as { data: { id: string }[] };
  expect(models.data.map((m) => m.id)).toEqual(DEMO_ROUTES.map((r) => r.model));
});

describe.concurrent('each demo route, through the OpenAI SDK', () => {
  test('demo: one attempt streams the whole answer; nothing fails', async () => {
    for (const { t, evs } of await run('demo', 1)) {
      expect(t.error).toBeUndefined();
      expect(t.text).toBe(ANSWER.join(''));
      expect(ofType(evs, 'attempt.started')).toHaveLength(1);
      expect(evs.filter((e) => ['attempt.failed', 'retry.scheduled', 'fallback', 'stream.resumed'].includes(e.type))).toEqual([]);
      expect(evs.at(-1)?.type).toBe('request.completed');
    }
  });

  test('demo-flaky: stream reset after a third of the answer → client gets the whole answer once, exactly one prefill resume; never a repeated or missing token', async () => {
    for (const { t, evs } of await run('demo-flaky')) {
      expect(t.error).toBeUndefined();
      expect(t.completed).toBe(true);
      expect(t.text).toBe(ANSWER.join('')); // no token twice, none lost
      expect(t.deltas.join('')).toBe(ANSWER.join(''));
      const failed = ofType(evs, 'attempt.failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]!.data).toMatchObject({ backend: 'demo-flaky', phase: 'stream', code: 'upstream_reset', retriable: true });
      expect(ofType(evs, 'checkpoint')).toHaveLength(1);
      expect(ofType(evs, 'checkpoint')[0]!.data).toMatchObject({ deliveredChars: DELIVERED_BEFORE_CUT.length });
      const resumed = ofType(evs, 'stream.resumed');
      expect(resumed).toHaveLength(1);
      expect(resumed[0]!.data).toMatchObject({ mode: 'prefill', fromChars: DELIVERED_BEFORE_CUT.length, backend: 'demo-flaky' });
      // what the events delivered before the resume is exactly what was cut
      const before = evs.filter((e) => e.type === 'content.delta' && e.seq < resumed[0]!.seq).map((e) => e.data.text).join('');
      expect(before).toBe(DELIVERED_BEFORE_CUT);
      expect(ofType(evs, 'retry.scheduled')).toEqual([]);
      expect(evs.at(-1)?.type).toBe('request.completed');
    }
  });

  test('demo-rate-limited: 429 with Retry-After: 1 on the first attempt → one retry after exactly 1000 ms, then the answer; never a second 429', async () => {
    for (const { t, evs } of await run('demo-rate-limited')) {
      expect(t.error).toBeUndefined();
      expect(t.text).toBe(ANSWER.join(''));
      expect(t.headers?.get('x-airoute-attempts')).toBe('2');
      const failed = ofType(evs, 'attempt.failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]!.data).toMatchObject({ status: 429, code: 'upstream_rate_limited', phase: 'headers' });
      const retries = ofType(evs, 'retry.scheduled');
      expect(retries).toHaveLength(1);
      expect(retries[0]!.data).toMatchObject({ retryAfterMs: 1000, delayMs: 1000, reason: 'upstream_rate_limited' });
      expect(ofType(evs, 'attempt.started')).toHaveLength(2);
      expect(evs.at(-1)?.type).toBe('request.completed');
    }
  });

  test('demo-down: the primary refuses connections → one fallback to the healthy backend, which answers; never an error to the client', async () => {
    for (const { t, evs } of await run('demo-down')) {
      expect(t.error).toBeUndefined();
      expect(t.text).toBe(ANSWER.join(''));
      expect(t.headers?.get('x-airoute-backend')).toBe('demo');
      const failed = ofType(evs, 'attempt.failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]!.data).toMatchObject({ backend: 'demo-down-primary', phase: 'connect', code: 'upstream_connect_failed' });
      const hops = ofType(evs, 'fallback');
      expect(hops).toHaveLength(1);
      expect(hops[0]!.data).toMatchObject({ from: 'demo-down-primary', to: 'demo', reason: 'retries_exhausted' });
      expect(ofType(evs, 'retry.scheduled')).toEqual([]);
      expect(evs.at(-1)).toMatchObject({ type: 'request.completed', data: { backend: 'demo' } });
    }
  });

  test('demo-diverge: stream cut, verify regenerates another answer → client keeps the delivered prefix and gets an explicit stream_diverged error; never a spliced answer', async () => {
    for (const { t, evs } of await run('demo-diverge')) {
      expect(t.completed).toBe(false);
      expect(t.error).toMatchObject({ code: 'stream_diverged' });
      expect(t.text).toBe(DELIVERED_BEFORE_CUT); // nothing of the other generation reached the client
      const failed = ofType(evs, 'attempt.failed');
      expect(failed.map((e) => e.data.code)).toEqual(['upstream_reset', 'stream_diverged']);
      // the regeneration shares the first few words, then goes another way: verify names where
      const other = divergentTokens(PROMPT, DEFAULTS.demo.tokens).join('');
      const shared = ANSWER.slice(0, divergeAt(DEFAULTS.demo.tokens)).join('');
      expect(other.startsWith(shared)).toBe(true);
      let at = shared.length;
      while (other[at] === DELIVERED_BEFORE_CUT[at]) at++;
      expect(String(failed[1]!.data.message)).toContain(`at character ${at}`);
      expect(ofType(evs, 'stream.resumed')).toEqual([]);
      const started = ofType(evs, 'attempt.started');
      expect(started.map((e) => e.data.mode)).toEqual(['fresh', 'verify']);
      const terminal = evs.at(-1)!;
      expect(terminal.type).toBe('request.failed');
      expect(terminal.data.error).toMatchObject({ code: 'stream_diverged', deliveredChars: DELIVERED_BEFORE_CUT.length });
    }
  });
});
