// Waiting for a slow reader without growing memory: a writer that got `false` from write() waits
// here before producing more.
import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Resolves when the stream can take more, or when it is gone (then writing stops anyway). */
export async function drained(out: Writable): Promise<void> {
  if (out.destroyed) return;
  const ac = new AbortController();
  try {
    await Promise.race([once(out, 'drain', { signal: ac.signal }), once(out, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}
