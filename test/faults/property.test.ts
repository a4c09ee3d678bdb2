// Property: whatever the faults, on whichever backends, in whichever order, the client's text is
// the complete canonical answer or a strict prefix of it followed by an explicit error. Never a
// duplicated token, never a gap, never two generations joined.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { configFromDocument } from '../../sidecar/config/load.ts';
import { MockProvider, chunkText, type Fault } from '../support/mock-provider.ts';
import { streamWith, type ClientKind } from '../support/clients.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const CANONICAL = 'Every recovery is visible as an event and a metric, and no reader ever sees the same word twice in one answer.';
const N = chunkText(CANONICAL).length;
const TYPES = ['openai-compatible', 'anthropic', 'openai', 'gemini'] as const;
const mocks: MockProvider[] = [];
let sc: TestSidecar;

const timeouts = { connectMs: 300, firstTokenMs: 150, idleMs: 120, totalMs: 8000 };

beforeAll(async () => {
  for (let i = 0; i < 3; i++) mocks.push(await new MockProvider().start());
  sc = await testSidecar({ backends: [{ name: 'd', type: 'demo' }], routes: [{ model: 'd', backends: [{ backend: 'd' }] }] });
});
afterAll(async () => {
  await sc?.close();
  for (const m of mocks) await m.stop();
});

const at = fc.integer({ min: 0, max: N - 1 });
const fault: fc.Arbitrary<Fault | null> = fc.oneof(
  fc.constant(null),
  fc.constant(null),
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

const scenario = fc.record({
  client: fc.constantFrom<ClientKind>('openai', 'anthropic'),
  resume: fc.constantFrom('none', 'prefill', 'verify'),
  chain: fc.uniqueArray(fc.record({ mock: fc.integer({ min: 0, max: 2 }), type: fc.constantFrom(...TYPES) }), { minLength: 1, maxLength: 3, selector: (b) => b.mock }),
  faults: fc.tuple(fc.array(fault, { maxLength: 4 }), fc.array(fault, { maxLength: 4 }), fc.array(fault, { maxLength: 4 })),
  attempts: fc.integer({ min: 1, max: 3 }),
});

test('random fault schedules over random backends: complete canonical text, or a strict prefix then an explicit error', async () => {
  let runs = 0;
  let completed = 0;
  let recovered = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      runs++;
      const backends = s.chain.map((c, i) => ({
        name: `b${i}`,
        type: c.type,
        baseURL: c.type === 'anthropic' || c.type === 'gemini' ? mocks[c.mock]!.url : `${mocks[c.mock]!.url}/v1`,
        apiKey: { value: 'k' },
        circuit: { consecutiveFailures: 1000, minimumRequests: 100000 },
      }));
      sc.sidecar.swap(
        configFromDocument(
          {
            backends,
            routes: [{ model: 'p', backends: backends.map((b) => ({ backend: b.name, model: 'm' })), retry: { attempts: s.attempts, backoff: { baseMs: 1, maxMs: 3 } }, timeouts, resume: s.resume }],
          },
          'property',
          runs,
        ),
      );
      mocks.forEach((m, i) => {
        m.reset();
        m.answer = { text: CANONICAL };
        // null is "this request goes well" (a zero-delay first token is an ordinary answer)
        m.faults = s.faults[i]!.map((f) => f ?? { slowFirstTokenMs: 0 });
      });
      const t = await streamWith(s.client, sc.dataURL, { model: 'p', prompt: 'the question' });
      expect(t.deltas.join('')).toBe(t.text);
      expect(CANONICAL.startsWith(t.text), `not a prefix: ${JSON.stringify(t.text)} in ${JSON.stringify(s)}`).toBe(true);
      if (t.completed) {
        expect(t.text).toBe(CANONICAL);
        completed++;
        if (mocks.some((m) => m.received.some((r) => r.fault && !('slowFirstTokenMs' in r.fault && r.fault.slowFirstTokenMs === 0)))) recovered++;
      } else {
        expect(t.error, `incomplete without an error: ${JSON.stringify(s)}`).toBeDefined();
        if (s.resume === 'none') expect(t.text.length).toBeLessThan(CANONICAL.length);
      }
    }),
    { numRuns: 120, endOnFailure: true },
  );
  // the generator must actually exercise recoveries, or the property proves little
  expect(completed).toBeGreaterThan(20);
  expect(recovered).toBeGreaterThan(10);
}, 240_000);
