// The client against a real sidecar on the built-in demo: following with a dropped connection,
// the sync stream reader, and the timeline of real events.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEFAULTS } from '../api/v1alpha1/config.ts';
import { cutAfter, demoTokens } from '../sidecar/upstream/demo.ts';
import { testSidecar, type TestSidecar } from '../test/support/sidecar.ts';
import { follow, streamCompletion, submit, timeline, type Connection, type LifecycleEvent, type SseMessage } from './index.ts';

let sc: TestSidecar;
const PROMPT = 'What does the client do?';
const ANSWER = demoTokens(PROMPT, DEFAULTS.demo.tokens).join('');
const BEFORE_CUT = demoTokens(PROMPT, cutAfter(DEFAULTS.demo.tokens)).join('');
const body = (model: string) => ({ model, stream: true, messages: [{ role: 'user', content: PROMPT }] });

beforeAll(async () => {
  sc = await testSidecar(undefined);
});
afterAll(async () => {
  await sc?.close();
});

test('dropping the event connection mid-stream: the follower resumes with Last-Event-ID; every seq arrives once, in order; the text is whole', async () => {
  const { id } = await submit(body('demo-flaky'), { baseURL: sc.dataURL });
  const connections: Connection[] = [];
  const frames: SseMessage[] = [];
  const events: LifecycleEvent[] = [];
  const DROP_AT = 10;
  const final = await follow(id, {
    baseURL: sc.dataURL,
    onConnect: (c) => connections.push(c),
    onFrame: (f) => frames.push(f),
    onEvent: (ev) => {
      events.push(ev);
      if (ev.seq === DROP_AT) connections.at(-1)!.drop();
    },
  });
  expect(connections.map((c) => [c.n, c.lastEventId])).toEqual([
    [1, 0],
    [2, DROP_AT],
  ]);
  const seqs = frames.map((f) => Number(f.id));
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1)); // no gap, no duplicate across the drop
  expect(frames[0]!.raw).toBe(`id: 1\ndata: ${frames[0]!.data}`);
  expect(final).toMatchObject({ status: 'completed', text: ANSWER, resumes: 1, resumedAt: [BEFORE_CUT.length], gap: false });

  const t = timeline(events);
  expect(t.lanes.map((l) => [l.attempt, l.backend, l.mode, l.failure?.code])).toEqual([
    [1, 'demo-flaky', 'fresh', 'upstream_reset'],
    [2, 'demo-flaky', 'prefill', undefined],
  ]);
  expect(t.lanes[0]!.checkpoint?.deliveredChars).toBe(BEFORE_CUT.length);
  expect(t.lanes[1]!.resumed?.fromChars).toBe(BEFORE_CUT.length);
  expect(t.terminal?.type).toBe('request.completed');
}, 20_000);

test('streamCompletion reads a streamed answer frame by frame, and an in-stream error as an error', async () => {
  const frames: string[] = [];
  const ok = await streamCompletion(body('demo'), { baseURL: sc.dataURL, onFrame: (f) => frames.push(f.raw) });
  expect(ok).toMatchObject({ status: 200, text: ANSWER, done: true, finishReason: 'stop' });
  expect(ok.requestId).toMatch(/^[0-9a-f-]{36}$/);
  expect(frames.at(-1)).toBe('data: [DONE]');
  expect(frames.every((f) => f.startsWith('data: '))).toBe(true);

  const diverged = await streamCompletion(body('demo-diverge'), { baseURL: sc.dataURL });
  expect(diverged).toMatchObject({ status: 200, text: BEFORE_CUT, done: false, error: { code: 'stream_diverged' } });

  const missing = await streamCompletion(body('no-such-model'), { baseURL: sc.dataURL });
  expect(missing).toMatchObject({ status: 404, text: '', error: { code: 'model_not_found' } });
}, 20_000);
