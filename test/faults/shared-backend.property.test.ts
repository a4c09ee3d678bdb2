// Property: several models share one backend (one provider account). Whatever faults strike some
// of them, in whatever order, with their circuits opening and closing over the runs, requests to
// the other models sent at the same time all succeed, and every client of a faulty model sees the
// complete canonical text or a strict prefix of it followed by an explicit error: never a
// duplicated token, a gap, or two generations joined.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { streamWith, type ClientKind, type Transcript } from '../support/clients.ts';
import { MockProvider, chunkText, sleep, type Fault } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const CANONICAL = 'A model that fails on a shared account fails alone, and the models beside it keep answering every request.';
const N = chunkText(CANONICAL).length;
const FAULTY = ['f0', 'f1', 'f2'] as const;
const HEALTHY = ['h0', 'h1', 'h2'] as const;
let acct: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  acct = await new MockProvider().start();
  // Circuits that open readily and cool down quickly, so runs see them open, half-open and closed.
  // The host breaker is out of reach here: a reset before any response counts against the host by
  // design (it cannot tell the host from the model), and its own tests live in shared-backend.test.ts.
  const circuit = { consecutiveFailures: 2, cooldownMs: 150, host: { consecutiveFailures: 1000, minimumRequests: 100000 } };
  sc = await testSidecar({
    backends: [{ name: 'acct', type: 'openai-compatible', baseURL: `${acct.url}/v1`, apiKey: { value: 'k' }, circuit }],
    routes: [
      // Each faulty model falls back to its own small model on the same account, which may be faulty too.
      ...FAULTY.map((m) => ({
        model: m,
        backends: [{ backend: 'acct', model: m }, { backend: 'acct', model: `${m}-small` }],
        retry: { attempts: 2, backoff: { baseMs: 1, maxMs: 3 } },
        timeouts: { connectMs: 300, firstTokenMs: 150, idleMs: 120, totalMs: 8000 },
        resume: 'prefill',
      })),
      // Healthy models get timeouts no busy machine reaches: a failure of theirs is a grudge, not load.
      ...HEALTHY.map((m) => ({ model: m, backends: [{ backend: 'acct', model: m }], timeouts: { firstTokenMs: 10000, idleMs: 10000, totalMs: 20000 } })),
    ],
  });
});
afterAll(async () => {
  await sc?.close();
  await acct?.stop();
});

const at = fc.integer({ min: 0, max: N - 1 });
const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ status: fc.constantFrom(429, 500, 503, 529), retryAfterMs: fc.constantFrom('0', '5') }),
  fc.constant({ reset: 'before-headers' as const }),
  fc.constant({ hang: 'before-headers' as const }),
  fc.constant({ slowFirstTokenMs: 200 }),
  at.map((n) => ({ dropAfter: n })),
  at.map((n) => ({ stallAfter: n })),
  at.map((n) => ({ malformedAfter: n })),
  at.map((n) => ({ errorEventAfter: n })),
  fc.constant({ noTerminator: true as const }),
);

const schedule = fc.record({
  // Faults per faulty model and per its small fallback, consumed one per attempt.
  faults: fc.dictionary(fc.constantFrom(...FAULTY.flatMap((m) => [m, `${m}-small`])), fc.array(fault, { minLength: 1, maxLength: 4 }), { minKeys: 1 }),
  // Who sends, in what order, with which SDK: faulty and healthy requests interleaved in time.
  requests: fc.array(fc.record({ model: fc.constantFrom<string>(...FAULTY, ...HEALTHY), client: fc.constantFrom<ClientKind>('openai', 'anthropic'), delayMs: fc.integer({ min: 0, max: 60 }) }), {
    minLength: 3,
    maxLength: 8,
  }),
  healthyClient: fc.constantFrom<ClientKind>('openai', 'anthropic'),
});

test('random fault schedules on some models of a shared backend: requests to the other models always succeed; faulty ones end complete, or a strict prefix plus an explicit error', async () => {
  let runs = 0;
  let faultyIncomplete = 0;
  let faultyRecovered = 0;
  let healthy = 0;
  await fc.assert(
    fc.asyncProperty(schedule, async (s) => {
      runs++;
      acct.reset();
      acct.answer = { text: CANONICAL };
      for (const [model, faults] of Object.entries(s.faults)) acct.modelFaults.set(model, [...faults]);
      // Every healthy model is asked at least once per run, alongside the faulty traffic.
      const sends = [...s.requests, ...HEALTHY.map((model, i) => ({ model, client: s.healthyClient, delayMs: 10 * i }))];
      const results = await Promise.all(
        sends.map(async (r) => {
          await sleep(r.delayMs);
          return { model: r.model, t: await streamWith(r.client, sc.dataURL, { model: r.model, prompt: 'the question' }) };
        }),
      );
      for (const { model, t } of results) {
        expectPrefixInvariant(t, model, s);
        if ((HEALTHY as readonly string[]).includes(model)) {
          expect(t.completed, `healthy model ${model} failed: ${JSON.stringify(t.error)} in ${JSON.stringify(s)}`).toBe(true);
          expect(t.text).toBe(CANONICAL);
          healthy++;
        } else if (!t.completed) faultyIncomplete++;
        else if (Object.keys(s.faults).some((k) => k === model || k === `${model}-small`)) faultyRecovered++;
      }
      // The healthy models' circuits never opened, whatever happened to the others.
      for (const c of sc.sidecar.resilience.notClosed()) expect(HEALTHY as readonly string[]).not.toContain(c.model);
    }),
    { numRuns: 60, endOnFailure: true },
  );
  // The generator must exercise both recoveries and explicit failures, or the property proves little.
  expect(healthy).toBeGreaterThanOrEqual(runs * HEALTHY.length);
  expect(faultyRecovered).toBeGreaterThan(10);
  expect(faultyIncomplete).toBeGreaterThan(0);
}, 240_000);

function expectPrefixInvariant(t: Transcript, model: string, s: unknown): void {
  expect(t.deltas.join('')).toBe(t.text);
  expect(CANONICAL.startsWith(t.text), `${model}: not a prefix: ${JSON.stringify(t.text)} in ${JSON.stringify(s)}`).toBe(true);
  if (t.completed) expect(t.text, `${model}: completed with a shorter text in ${JSON.stringify(s)}`).toBe(CANONICAL);
  else expect(t.error, `${model}: incomplete without an error in ${JSON.stringify(s)}`).toBeDefined();
}
