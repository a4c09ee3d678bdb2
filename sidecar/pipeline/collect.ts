// Runs an exchange to its end without a client connection (async requests): the answer is folded
// into one complete result in the endpoint's own non-streamed format. The caller ends the request
// with `finish` when it is really over (a backend in the loop may still have to answer).
import { ResultBuilder } from '../chat/types.ts';
import type { AirouteError } from '../errors.ts';
import { encodeResult, resultValue } from './answer-body.ts';
import { failureOf } from './deliver.ts';
import type { RouteExchange } from './exchange.ts';
import { handle } from './pipeline.ts';
import { Tally } from './tally.ts';

export type Collected = { ok: true; body: unknown; tally: Tally } | { ok: false; err: AirouteError; tally: Tally };

export async function collect(x: RouteExchange): Promise<Collected> {
  const tally = new Tally(x.lifecycle);
  try {
    const answer = await handle(x);
    tally.see(answer);
    if (answer.kind === 'json') {
      tally.complete(answer);
      return { ok: true, body: resultValue(x.request, answer, x.id), tally };
    }
    const builder = new ResultBuilder();
    for await (const frame of answer.frames) {
      tally.frame(frame);
      tally.sent();
      for (const ev of frame.events) builder.add(ev);
    }
    const result = builder.build();
    tally.see(answer);
    tally.usage = result.usage;
    if (!result.model) result.model = answer.target.model;
    return { ok: true, body: encodeResult(x.request, result, x.id), tally };
  } catch (e) {
    return { ok: false, err: failureOf(x, e), tally };
  }
}
