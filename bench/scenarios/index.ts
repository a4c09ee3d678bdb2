// The scenarios of `npm run bench`, in the order they run (`--only` picks some; the order stays).
// The id names the scenario on the command line and its `raw` entry in latest.json.
import { checkpoint } from './checkpoint.ts';
import type { Scenario } from './context.ts';
import { goodput } from './goodput.ts';
import { journal } from './journal.ts';
import { latency } from './latency.ts';
import { paced } from './paced.ts';
import { rps } from './rps.ts';
import { rss } from './rss.ts';
import { stream } from './stream.ts';

export const SCENARIOS = [
  { id: 'latency', title: 'added latency, non-stream, c=1', run: latency },
  { id: 'stream', title: 'added TTFT and per-chunk cost, c=1', run: stream },
  { id: 'paced', title: 'inter-chunk gaps, paced upstream', run: paced },
  { id: 'rps', title: 'requests/s', run: rps },
  { id: 'checkpoint', title: 'checkpointing cost (resume none vs prefill)', run: checkpoint },
  { id: 'faults', title: 'goodput under faults', run: goodput },
  { id: 'journal', title: 'journal cost (retention 15 min vs 1 s)', run: journal },
  { id: 'rss', title: 'RSS with 1,000 open streams', run: rss },
] as const satisfies readonly Scenario[];

export type ScenarioId = (typeof SCENARIOS)[number]['id'];
export const SCENARIO_IDS: readonly ScenarioId[] = SCENARIOS.map((s) => s.id);
