// The quick start as a user runs it: `npm start` runs bin/airoute.js (the compiled CLI) on the
// demo backend, and the official OpenAI SDK with only its base URL changed streams from it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, expect, test } from 'vitest';

const run = promisify(execFile);
let child: ChildProcess;
let dataURL = '';
let adminURL = '';

beforeAll(async () => {
  // what `npm ci` does through `prepare`; rebuilt here so the test never runs a stale dist/
  await run('node_modules/.bin/tsc', ['-p', 'tsconfig.build.json']);
  const pkg = (await import('../package.json', { with: { type: 'json' } })).default as { bin: { airoute: string }; scripts: { start: string } };
  expect(pkg.scripts.start).toBe(`node ${pkg.bin.airoute} sidecar --demo-ui`);
  child = spawn('node_modules/.bin/node', [pkg.bin.airoute, 'sidecar', '--demo-ui', '--port', '0', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the sidecar did not start: ${out}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"data":"http'));
      if (!line) return;
      const rec = JSON.parse(line) as { data: string; admin: string };
      dataURL = rec.data;
      adminURL = rec.admin;
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}, 60_000);

afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
});

test('the OpenAI SDK with only baseURL changed streams from the demo backend', async () => {
  const openai = new OpenAI({ baseURL: `${dataURL}/v1`, apiKey: 'unused' });
  const stream = await openai.chat.completions.create({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'hello' }] });
  const deltas: string[] = [];
  for await (const chunk of stream) if (chunk.choices[0]?.delta.content) deltas.push(chunk.choices[0].delta.content);
  expect(deltas.length).toBeGreaterThan(10);
  expect(deltas.join('')).toMatch(/\w+ \w+/);
  expect((await (await fetch(`${adminURL}/readyz`)).json()) as object).toMatchObject({ status: 'ready' });
  expect((await fetch(`${dataURL}/airoute/demo`)).status).toBe(200);
});

test('the Anthropic SDK too, and the answer is the same text', async () => {
  const anthropic = new Anthropic({ baseURL: dataURL, apiKey: 'unused' });
  const m = await anthropic.messages.create({ model: 'demo', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] });
  const openai = new OpenAI({ baseURL: `${dataURL}/v1`, apiKey: 'unused' });
  const r = await openai.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] });
  expect(m.content[0]!.type === 'text' && m.content[0]!.text).toBe(r.choices[0]!.message.content);
}, 15_000);

test('the Responses API on the demo: the same answer; a background response picked up after its 5th event', async () => {
  const openai = new OpenAI({ baseURL: `${dataURL}/v1`, apiKey: 'unused' });
  const r = await openai.responses.create({ model: 'demo', input: 'hello' });
  const c = await openai.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'hello' }] });
  expect(r.output_text).toBe(c.choices[0]!.message.content);
  const bg = await openai.responses.create({ model: 'demo', input: 'hello', background: true });
  let text = '';
  const seqs: number[] = [];
  for await (const ev of await openai.responses.retrieve(bg.id, { stream: true, starting_after: 5 })) {
    seqs.push(ev.sequence_number);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
  }
  expect(seqs[0]).toBe(6);
  expect(r.output_text.endsWith(text)).toBe(true);
}, 15_000);

test('SIGTERM stops the sidecar through the CLI\'s one shutdown path: it logs why and exits 0', async () => {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(out).toMatch(/"signal":"SIGTERM".*shutting down/);
}, 15_000);
