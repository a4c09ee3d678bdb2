import { afterEach, describe, expect, test, vi } from 'vitest';
import { MemoryResponseStore, type StoredResponse } from './store.ts';

const stored = (id: string, text = 'x', createdAt = Date.now()): StoredResponse => ({
  id,
  response: { id, object: 'response', status: 'completed' },
  items: [{ role: 'user', content: text }],
  output: [],
  createdAt,
});

let store: MemoryResponseStore | undefined;
afterEach(() => {
  store?.close();
  vi.useRealTimers();
});

describe('MemoryResponseStore', () => {
  test('a stored response is read back; an id never stored is unknown', async () => {
    store = new MemoryResponseStore(60_000, 10, 1 << 20);
    const a = stored('resp_a');
    store.put(a);
    expect(await store.get('resp_a')).toEqual({ status: 'ok', stored: a });
    expect(await store.get('resp_b')).toEqual({ status: 'unknown' });
  });

  test('a deleted response reads as deleted, not unknown', async () => {
    store = new MemoryResponseStore(60_000, 10, 1 << 20);
    store.put(stored('resp_a'));
    await store.delete('resp_a');
    expect(await store.get('resp_a')).toEqual({ status: 'deleted' });
  });

  test('past the count bound the oldest goes first', async () => {
    store = new MemoryResponseStore(60_000, 2, 1 << 20);
    for (const id of ['resp_1', 'resp_2', 'resp_3']) store.put(stored(id));
    expect((await store.get('resp_1')).status).toBe('unknown');
    expect((await store.get('resp_3')).status).toBe('ok');
  });

  test('past the byte bound the oldest go until the rest fits; one larger than the whole budget is not kept', async () => {
    store = new MemoryResponseStore(60_000, 100, 2000);
    store.put(stored('resp_1', 'a'.repeat(600)));
    store.put(stored('resp_2', 'b'.repeat(600)));
    expect((await store.get('resp_1')).status).toBe('unknown');
    expect((await store.get('resp_2')).status).toBe('ok');
    store.put(stored('resp_big', 'c'.repeat(5000)));
    expect((await store.get('resp_big')).status).toBe('unknown');
    expect((await store.get('resp_2')).status).toBe('ok');
  });

  test('past its TTL a response is swept', async () => {
    vi.useFakeTimers();
    store = new MemoryResponseStore(1000, 10, 1 << 20);
    store.put(stored('resp_old'));
    vi.advanceTimersByTime(1500);
    expect((await store.get('resp_old')).status).toBe('unknown');
  });
});
