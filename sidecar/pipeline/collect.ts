// Runs an exchange to its end without a client connection (async requests): the answer is folded
// into one complete result in the endpoint's own non-streamed format. The caller ends the request
// with `finish` when it is really over (a backend in the loop may still have to answer).
import { ResultBuilder } from '../chat/types.ts';
import type { AirouteError } from '../errors.ts';
import { responseTooLarge } from '../stages/attempt.ts';
import { completeAnswer, encodeResult, resultValue } from './answer-body.ts';
import { failureOf } from './deliver.ts';
import type { BytesAnswer, RouteExchange } from './exchange.ts';
import { handle } from './pipeline.ts';
import { Tally } from './tally.ts';

export type Collected = { ok: true; body: unknown; tally: Tally } | { ok: false; err: AirouteError; tally: Tally };

export async function collect(x: RouteExchange): Promise<Collected> {
  const tally = new Tally(x.lifecycle);
  try {
    let answer = await handle(x);
    tally.see(answer);
    if (answer.kind === 'bytes') answer = completeAnswer(x.request, answer, await readWhole(answer, x.limits.maxResponseBytes));
    if (answer.kind === 'json') {
      tally.complete(answer);
      return { ok: true, body: resultValue(x.request, answer, x.id), tally };
    }
    // The result is held until it is read or expires: it may be no larger than limits.maxResponseBytes.
    const builder = new ResultBuilder();
    let size = 0;
    for await (const frame of answer.frames) {
      tally.frame(frame);
      tally.sent();
      for (const ev of frame.events) {
        size += ev.type === 'text' ? ev.text.length : ev.type === 'tool_args' ? ev.args.length : 0;
        builder.add(ev);
      }
      if (size > x.limits.maxResponseBytes) throw responseTooLarge(answer.target.backend.name, x.limits.maxResponseBytes, 'as an async result');
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

/** A streamed-through answer, read whole up to `limit` bytes (an async result is kept, so it must fit). */
async function readWhole(answer: BytesAnswer, limit: number): Promise<string> {
  const parts: Uint8Array[] = [answer.head];
  let size = answer.head.length;
  if (size > limit) throw responseTooLarge(answer.target.backend.name, limit, 'as an async result');
  for await (const chunk of answer.rest) {
    size += chunk.byteLength;
    if (size > limit) throw responseTooLarge(answer.target.backend.name, limit, 'as an async result');
    parts.push(chunk);
  }
  return Buffer.concat(parts, size).toString('utf8');
}
