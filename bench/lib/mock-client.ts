// The benchmark's side of the mock upstream's control endpoints (bench/upstream.ts): set how it
// answers for the next phase, and read its counters.
import { DEFAULT_MODE, type MockMode, type MockStats } from './common.ts';

/** Counters since the last reset, with every attempt the mock saw. */
export type MockCounters = MockStats & { attempts: number };

/** `PUT /_mock/mode`: the default mode with `mode` over it; the mock's counters restart at zero. */
export async function setMode(origin: string, mode: Partial<MockMode>): Promise<void> {
  const full: MockMode & { reset: boolean } = { ...DEFAULT_MODE, reset: true, ...mode };
  const res = await fetch(`${origin}/_mock/mode`, { method: 'PUT', body: JSON.stringify(full) });
  if (res.status !== 200) throw new Error(`mock mode: ${res.status}`);
  await res.arrayBuffer();
}

/** `GET /_mock/stats`. */
export async function mockStats(origin: string): Promise<MockCounters> {
  const res = await fetch(`${origin}/_mock/stats`);
  return (await res.json()) as MockCounters;
}
