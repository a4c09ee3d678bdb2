import { expect, test } from 'vitest';
import { readHead } from './body-head.ts';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

test('a body within the bound is read whole', async () => {
  let seen = 0;
  const h = await readHead(chunks('{"a":', '1}'), 10, () => seen++);
  expect(h).toMatchObject({ complete: true });
  expect(h.head.toString()).toBe('{"a":1}');
  expect(seen).toBe(2);
});

test('past the bound the read stops after the chunk that crossed it; the rest stays on the iterator, unread', async () => {
  const h = await readHead(chunks('12345', '67890', 'abc', 'def'), 6, () => undefined);
  expect(h.complete).toBe(false);
  expect(h.head.toString()).toBe('1234567890');
  const rest: string[] = [];
  for (let n = await h.rest.next(); !n.done; n = await h.rest.next()) rest.push(Buffer.from(n.value).toString());
  expect(rest).toEqual(['abc', 'def']);
});
