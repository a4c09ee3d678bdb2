import { describe, expect, test } from 'vitest';
import type { LifecycleEvent } from '../types.ts';
import { entryId, entryIdAfter, eventsOf, fieldOf, KeyLayout, seqOfEntryId, type StreamEntry } from './keys.ts';

const ev = (seq: number): LifecycleEvent => ({ requestId: 'r', seq, ts: 1, attempt: 1, type: 'content.delta', data: { choice: 0, text: `t${seq}` } });

describe('key layout', () => {
  const k = new KeyLayout('app:');

  test("one request's keys share a hash tag ({id}), so they land in one cluster slot", () => {
    expect(k.stream('req-1')).toBe('app:{req-1}:s');
    expect(k.meta('req-1')).toBe('app:{req-1}:h');
    const tag = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];
    expect(tag(k.stream('req-1'))).toBe(tag(k.meta('req-1')));
  });

  test('the shared keys and the per-process keys sit under the prefix', () => {
    expect([k.live, k.gone, k.lease('host/1/ab'), k.control('host/1/ab')]).toEqual(['app:live', 'app:gone', 'app:lease:host/1/ab', 'app:ctl:host/1/ab']);
    // the takeover script appends the owner it reads to this prefix: it must give the same key
    expect(k.leasePrefix + 'host/1/ab').toBe(k.lease('host/1/ab'));
  });

  test('two prefixes share no key (several sidecar fleets on one Redis)', () => {
    const a = new KeyLayout('a:');
    const b = new KeyLayout('b:');
    const of = (x: KeyLayout) => [x.stream('1'), x.meta('1'), x.live, x.gone, x.lease('i'), x.control('i')];
    expect(of(a).filter((key) => of(b).includes(key))).toEqual([]);
  });
});

describe('entry ids', () => {
  test('an event is stored under <seq>-0 and its seq read back from the id', () => {
    expect(entryId(42)).toBe('42-0');
    expect(seqOfEntryId(entryId(42))).toBe(42);
    expect(seqOfEntryId('1700000000000-3')).toBe(1700000000000);
  });

  test('ids compare as (ms, n), not as strings: 10-0 is after 9-0, 9-1 after 9-0', () => {
    expect(entryIdAfter('10-0', '9-0')).toBe(true);
    expect(entryIdAfter('9-0', '10-0')).toBe(false);
    expect(entryIdAfter('9-1', '9-0')).toBe(true);
    expect(entryIdAfter('9-0', '9-0')).toBe(false);
  });

  test("an entry's event comes from its `e` field wherever it sits; entries without one are skipped, order kept", () => {
    const entries: StreamEntry[] = [
      ['1-0', ['e', JSON.stringify(ev(1))]],
      ['2-0', ['x', 'y']],
      ['3-0', ['x', 'y', 'e', JSON.stringify(ev(3))]],
    ];
    expect(fieldOf(entries[2]!, 'x')).toBe('y');
    expect(fieldOf(entries[1]!, 'e')).toBeUndefined();
    expect(eventsOf(entries)).toEqual([ev(1), ev(3)]);
  });
});
