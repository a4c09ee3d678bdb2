import { expect, test } from 'vitest';
import { attempt } from '../stages/attempt.ts';
import { circuit } from '../stages/circuit.ts';
import { deadline } from '../stages/deadline.ts';
import { fallback } from '../stages/fallback.ts';
import { resume } from '../stages/resume.ts';
import { retry } from '../stages/retry.ts';
import { answerFrom, chatBody, harness } from '../../test/support/pipeline.ts';
import { chain, type Handler, type Stage } from './chain.ts';
import type { Answer, RouteExchange, TargetExchange } from './exchange.ts';

const doc = {
  backends: [
    { name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' },
    { name: 'b', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' },
  ],
  routes: [{ model: 'm', backends: [{ backend: 'a' }, { backend: 'b' }] }],
};
const open = () => harness(doc).open(chatBody('m'));

/** A stage that logs its name on the way down and on the way back up. */
const logging =
  <X>(name: string, log: string[]): Stage<X> =>
  (next) =>
  async (x) => {
    log.push(`${name} in`);
    const a = await next(x);
    log.push(`${name} out`);
    return a;
  };

/** Chooses a target the way fallback does, without its policy: the exchange's type changes here. */
const pickLast: Stage<RouteExchange, TargetExchange> = (next) => (x) => next({ ...x, target: x.route.targets.at(-1)! });

test('stages run outermost-first on the way down and unwind in reverse; the last handler runs once, innermost', async () => {
  const log: string[] = [];
  const handle = chain<RouteExchange>()
    .then(logging('one', log))
    .then(logging('two', log))
    .then(logging('three', log))
    .end((x) => {
      log.push('end');
      return Promise.resolve(answerFrom(x.route.targets[0]!));
    });
  await handle(open());
  expect(log).toEqual(['one in', 'two in', 'three in', 'end', 'three out', 'two out', 'one out']);
});

test('the exchange type changes at a stage: later stages and the end get what it passed on', async () => {
  const seen: string[] = [];
  const targetOnly: Stage<TargetExchange> = (next) => (x) => {
    seen.push(`stage saw ${x.target.backend.name}`);
    return next(x);
  };
  const handle: Handler<RouteExchange> = chain<RouteExchange>()
    .then(pickLast)
    .then(targetOnly)
    .end((x) => {
      seen.push(`end saw ${x.target.backend.name}`);
      return Promise.resolve(answerFrom(x.target));
    });
  const x = open();
  const answer = await handle(x);
  expect(seen).toEqual(['stage saw b', 'end saw b']);
  expect(answer.target.backend.name).toBe('b');
  expect('target' in x).toBe(false);
});

test('a stage may answer without calling the ones below, and may catch what they throw', async () => {
  let endCalls = 0;
  const end: Handler<RouteExchange> = () => {
    endCalls++;
    return Promise.reject(new Error('from below'));
  };
  const shortCircuit: Stage<RouteExchange> = () => (x) => Promise.resolve(answerFrom(x.route.targets[0]!, 7));
  expect((await chain<RouteExchange>().then(shortCircuit).end(end)(open())).attempt).toBe(7);
  expect(endCalls).toBe(0);

  const rescue: Stage<RouteExchange> = (next) => (x) => next(x).catch(() => answerFrom(x.route.targets[1]!, 9));
  const answer: Answer = await chain<RouteExchange>().then(rescue).end(end)(open());
  expect(answer).toMatchObject({ attempt: 9, target: { backend: { name: 'b' } } });
  expect(endCalls).toBe(1);
});

test('a chain is a value: extending it makes a new chain and leaves the prefix as it was', async () => {
  const log: string[] = [];
  const prefix = chain<RouteExchange>().then(logging('shared', log));
  const longer = prefix.then(logging('extra', log));
  const end: Handler<RouteExchange> = (x) => Promise.resolve(answerFrom(x.route.targets[0]!));
  await prefix.end(end)(open());
  expect(log).toEqual(['shared in', 'shared out']);
  log.length = 0;
  await longer.end(end)(open());
  expect(log).toEqual(['shared in', 'extra in', 'extra out', 'shared out']);
});

test('an empty chain is its end handler', async () => {
  const x = open();
  const a = answerFrom(x.route.targets[0]!);
  expect(await chain<RouteExchange>().end(() => Promise.resolve(a))(x)).toBe(a);
});

// Type-level tests: these functions are never called. `npm test` runs `tsc --noEmit` over test
// files before vitest, and an `@ts-expect-error` line that compiles is itself a compile error, so
// each line below fails the build the day a wrong stage order type-checks. The last function is
// the right order, which must keep compiling.
export function wrongOrdersDoNotCompile(): void {
  // @ts-expect-error retry needs a target; before fallback there is none
  chain<RouteExchange>().then(retry);
  // @ts-expect-error circuit needs a target; before fallback there is none
  chain<RouteExchange>().then(deadline).then(circuit);
  // @ts-expect-error attempt cannot end a chain that never chose a target
  chain<RouteExchange>().then(deadline).end(attempt);
  // @ts-expect-error retry before fallback, even with fallback after it
  chain<RouteExchange>().then(retry).then(fallback).end(attempt);
  // @ts-expect-error a chain that starts at target level is no handler for a request
  const skipsFallback: Handler<RouteExchange> = chain<TargetExchange>().then(retry).end(attempt);
  // @ts-expect-error a continuation re-enters at route level: it cannot skip fallback either
  resume(chain<TargetExchange>().then(circuit).end(attempt));
  void skipsFallback;
}

export function theComposeLineCompiles(): Handler<RouteExchange> {
  const tryTargets = chain<RouteExchange>().then(fallback).then(retry).then(circuit).end(attempt);
  return chain<RouteExchange>().then(deadline).then(resume(tryTargets)).end(tryTargets);
}
