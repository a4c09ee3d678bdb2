import { getEventListeners } from 'node:events';
import { expect, test } from 'vitest';
import { cancellationOf, pause } from './transport.ts';

test('cancellationOf follows its signal: the reason, and the one hook called once; removing the hook removes its listener', () => {
  const ac = new AbortController();
  const cancel = cancellationOf(ac.signal);
  expect(cancel.reason).toBeUndefined();
  const heard: unknown[] = [];
  cancel.onCancel(() => heard.push('dropped'));
  cancel.onCancel((r) => heard.push(r));
  expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
  const reason = new Error('gone');
  ac.abort(reason);
  expect(cancel.reason).toBe(reason);
  expect(heard).toEqual([reason]);

  const other = new AbortController();
  const quiet = cancellationOf(other.signal);
  quiet.onCancel(() => heard.push('never'));
  quiet.onCancel(undefined);
  expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
  other.abort(new Error('x'));
  expect(heard).toEqual([reason]);
});

test('pause waits its time, unless cancelled first (then it rejects with the reason); on a cancelled attempt it fails at once', async () => {
  const ac = new AbortController();
  const cancel = cancellationOf(ac.signal);
  await expect(pause(1, cancel)).resolves.toBeUndefined();
  const waiting = pause(60_000, cancel);
  const reason = new Error('first token timeout');
  ac.abort(reason);
  await expect(waiting).rejects.toBe(reason);
  await expect(pause(1, cancel)).rejects.toBe(reason);
});
