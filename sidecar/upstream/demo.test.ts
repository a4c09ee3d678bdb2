import { expect, test } from 'vitest';
import { cutAfter, DemoTransport, demoTokens, divergeAt, divergentTokens } from './demo.ts';
import { cancellationOf } from './transport.ts';

test('the demo answer is deterministic per prompt and starts at the beginning of a sentence', () => {
  const a = demoTokens('hello', 20).join('');
  expect(demoTokens('hello', 20).join('')).toBe(a);
  expect(a).toMatch(/^[A-Z]|^airoute/);
  expect(demoTokens('hello', 5)).toHaveLength(5);
  expect(demoTokens('hello', 5).slice(1).every((t) => t.startsWith(' '))).toBe(true);
});

test('a diverging regeneration shares a few tokens, then differs before the point where the first answer broke', () => {
  for (const prompt of ['hello', 'Tell me how airoute recovers a broken stream.', '', 'x'.repeat(300)])
    for (const n of [3, 12, 48, 200]) {
      const first = demoTokens(prompt, n);
      const other = divergentTokens(prompt, n);
      const at = divergeAt(n);
      expect(other).toHaveLength(n);
      expect(other.slice(0, at)).toEqual(first.slice(0, at));
      expect(other[at]).not.toBe(first[at]);
      expect(at).toBeLessThan(cutAfter(n));
      expect(other.join('')).not.toMatch(/^ |  /);
    }
});

const transport = new DemoTransport(() => ({ tokens: 12, tokensPerSecond: 10_000 }));
const request = (model: string, messages: unknown[] = [{ role: 'user', content: 'hi' }]) => ({
  url: 'demo://b/chat/completions',
  method: 'POST' as const,
  headers: {},
  body: JSON.stringify({ model, stream: true, messages }),
});
const send = (model: string, attempt: number, messages?: unknown[]) =>
  transport.send(request(model, messages), { cancel: cancellationOf(new AbortController().signal), connectTimeoutMs: 1000, attempt });

async function read(body: AsyncIterable<Uint8Array>): Promise<{ text: string; error?: string }> {
  let raw = '';
  try {
    for await (const c of body) raw += Buffer.from(c).toString();
  } catch (err) {
    return { text: contentOf(raw), error: (err as { code?: string }).code ?? 'unknown' };
  }
  return { text: contentOf(raw) };
}

const contentOf = (raw: string) =>
  raw
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '')
    .join('');

test('demo-flaky: the first attempt resets after a third of the answer; a later one continues the prefix it is given', async () => {
  const full = demoTokens('hi', 12);
  const cut = await read((await send('demo-flaky', 1)).body);
  expect(cut).toEqual({ text: full.slice(0, cutAfter(12)).join(''), error: 'ECONNRESET' });
  const prefix = cut.text.trimEnd();
  const rest = await read((await send('demo-flaky', 2, [{ role: 'user', content: 'hi' }, { role: 'assistant', content: prefix }])).body);
  expect(rest.error).toBeUndefined();
  expect(prefix + rest.text).toBe(full.join(''));
});

test('demo-rate-limited: 429 with Retry-After: 1 on the first attempt only', async () => {
  const first = await send('demo-rate-limited', 1);
  expect(first.status).toBe(429);
  expect(first.headers['retry-after']).toBe('1');
  let body = '';
  for await (const c of first.body) body += Buffer.from(c).toString();
  expect(JSON.parse(body)).toMatchObject({ error: { type: 'requests', code: 'rate_limit_exceeded' } });
  const second = await send('demo-rate-limited', 2);
  expect(second.status).toBe(200);
  expect((await read(second.body)).text).toBe(demoTokens('hi', 12).join(''));
});

test('demo-down: every attempt is refused like a closed port', async () => {
  for (const attempt of [1, 2, 5]) await expect(send('demo-down', attempt)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
});

test('demo-diverge: the first attempt resets; a later one streams the other sample', async () => {
  expect((await read((await send('demo-diverge', 1)).body)).error).toBe('ECONNRESET');
  expect((await read((await send('demo-diverge', 2)).body)).text).toBe(divergentTokens('hi', 12).join(''));
});

test('the plain demo model never fails, whatever the attempt', async () => {
  for (const attempt of [1, 2]) expect(await read((await send('demo', attempt)).body)).toEqual({ text: demoTokens('hi', 12).join('') });
});
