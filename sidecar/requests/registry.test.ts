import { expect, test } from 'vitest';
import { AsyncRegistry } from './registry.ts';
import type { AsyncRecord } from './types.ts';

const record = (id: string): AsyncRecord => ({ id, format: 'openai', operation: 'chat', model: 'm', status: 'running', createdAt: 0, updatedAt: 0, attempts: 0, bodyHash: 'h' });

test('finished results are kept up to maxBytes: past it the oldest finished requests are dropped (gone), running ones never', async () => {
  const reg = new AsyncRegistry(60_000, 100, 10_000);
  const running = record('running');
  await reg.create(running);
  for (const id of ['a', 'b', 'c']) {
    const r = record(id);
    await reg.create(r);
    Object.assign(r, { status: 'completed', result: { text: 'x'.repeat(4000) } });
    reg.put(r);
  }
  expect(reg.storedBytes).toBeLessThanOrEqual(10_000);
  expect(await reg.get('a')).toEqual({ status: 'gone' });
  expect((await reg.get('c')).status).toBe('ok');
  expect((await reg.get('running')).status).toBe('ok');
  reg.close();
});

test('a record is measured again only when its result changes', async () => {
  const reg = new AsyncRegistry(60_000, 100, 1_000_000);
  const r = record('r');
  await reg.create(r);
  reg.put(r);
  const empty = reg.storedBytes;
  r.result = { text: 'y'.repeat(1000) };
  reg.put(r);
  expect(reg.storedBytes).toBeGreaterThan(empty + 1000);
  const after = reg.storedBytes;
  r.updatedAt = 5;
  reg.put(r);
  expect(reg.storedBytes).toBe(after);
  reg.close();
});
