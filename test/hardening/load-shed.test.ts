// Under memory pressure the sidecar sheds new work instead of dying: requests that hold answers
// the sidecar must translate (7 MiB each, their upstreams stalled before the end) fill its memory
// budget; a new request then gets 503 with Retry-After in its endpoint's error shape, the process
// stays alive, and once the held answers are gone new requests are served again. A real sidecar
// process with the heap the injected container gets.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compiledCli, INJECTED_CONTAINER_NODE_FLAGS, sample, spawnSidecar, type SidecarProcess } from './process.ts';
import { chatCompletion, json, ScriptedUpstream, sleep } from './upstream.ts';

const MiB = 1024 * 1024;
let up: ScriptedUpstream;
let sc: SidecarProcess;
let cleanup: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  up = await new ScriptedUpstream().start();
  const cli = await compiledCli();
  cleanup = cli.cleanup;
  sc = await spawnSidecar(
    {
      backends: [
        { name: 'oa', type: 'openai', baseURL: `${up.url}/v1`, apiKey: { value: 'sk-shed-0123456789' } },
        { name: 'an', type: 'anthropic', baseURL: up.url, apiKey: { value: 'sk-ant-shed-0123456789' } },
      ],
      routes: [
        { model: 'chat', backends: [{ backend: 'oa' }], retry: { attempts: 1 } },
        { model: 'claude', backends: [{ backend: 'an' }], retry: { attempts: 1 }, timeouts: { idleMs: 60_000 } },
      ],
    },
    { nodeFlags: INJECTED_CONTAINER_NODE_FLAGS, entry: cli.entry },
  );
}, 60_000);
afterAll(async () => {
  await sc?.stop();
  await up?.stop();
  await cleanup();
});

const post = (model: string) =>
  fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) });

test('held answers fill the budget → a new request gets 503 overloaded with Retry-After; the process lives; once they are gone, requests are served again', async () => {
  const held: ServerResponse[] = [];
  const piece = 'h'.repeat(MiB);
  up.fallback = async (res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"');
    for (let i = 0; i < 7; i++) res.write(piece);
    held.push(res); // ... and never the end: the sidecar holds what it read, to translate it
  };
  const pending: Promise<Response>[] = [];
  let shed: Response | undefined;
  for (let i = 0; i < 40 && !shed; i++) {
    pending.push(post('claude'));
    await sleep(150);
    const probe = await post('chat-probe');
    if (probe.status === 503) shed = probe;
    else await probe.text();
  }
  expect(shed, 'no request was shed').toBeDefined();
  expect(shed!.headers.get('retry-after')).toBe('1');
  expect(await shed!.json()).toMatchObject({ error: { code: 'overloaded', type: 'server_error', message: expect.stringContaining('shedding load') } });
  expect(sc.alive()).toBe(true);
  expect(sample(await sc.metrics(), 'airoute_load_shed_total')).toBeGreaterThanOrEqual(1);
  // the held answers end (their upstreams drop them): the sidecar lets them go and admits work again
  for (const res of held) res.destroy();
  for (const p of pending) expect((await p).status).toBe(502);
  up.fallback = (res) => json(res, 200, chatCompletion('served again'));
  let served = 0;
  for (let i = 0; i < 100 && served === 0; i++) {
    const r = await post('chat');
    if (r.status === 200) served++;
    else await sleep(200);
  }
  expect(served).toBe(1);
  expect(sc.alive()).toBe(true);
}, 90_000);
