import { expect, test, vi } from 'vitest';
import type { FallbackCondition } from '../../api/v1alpha1/config.ts';
import type { RuntimeTarget } from '../config/runtime.ts';
import { AirouteError, type ErrorDetails } from '../errors.ts';
import type { Handler } from '../pipeline/chain.ts';
import type { RouteExchange, TargetExchange } from '../pipeline/exchange.ts';
import { answerFrom, chatBody, dataOf, harness, typesOf } from '../../test/support/pipeline.ts';
import { fallback, orderTargets } from './fallback.ts';

// ---------------------------------------------------------------- order

const t = (name: string, priority: number, weight: number) => ({ backend: { name }, model: name, priority, weight }) as unknown as RuntimeTarget;
const names = (ts: RuntimeTarget[]) => ts.map((x) => x.backend.name);
/** A random source that returns these values in turn. */
const seq = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

test('order: by priority whatever the listed order', () => {
  expect(names(orderTargets([t('late', 2, 1), t('first', 0, 1), t('mid', 1, 1)], seq(0)))).toEqual(['first', 'mid', 'late']);
});

test('order: within a priority, a weighted draw; each draw takes one target out of the pool', () => {
  const pool = [t('a', 0, 3), t('b', 0, 1)];
  // r = random * 4: [0, 3) picks a, [3, 4) picks b
  expect(names(orderTargets(pool, seq(0)))).toEqual(['a', 'b']);
  expect(names(orderTargets(pool, seq(0.74)))).toEqual(['a', 'b']);
  expect(names(orderTargets(pool, seq(0.75)))).toEqual(['b', 'a']);
  expect(names(orderTargets(pool, seq(0.99)))).toEqual(['b', 'a']);
});

test('order: weight 0 only after every weighted target of its priority, and all-zero keeps the listed order', () => {
  expect(names(orderTargets([t('z', 0, 0), t('a', 0, 1)], seq(0)))).toEqual(['a', 'z']);
  expect(names(orderTargets([t('z1', 0, 0), t('z2', 0, 0)], seq(0.9)))).toEqual(['z1', 'z2']);
});

test('order: a random source at its upper edge still picks a weighted target, never a weight-0 one', () => {
  expect(names(orderTargets([t('a', 0, 1), t('z', 0, 0)], () => 1))).toEqual(['a', 'z']);
});

test('order: a route of one target, or none', () => {
  expect(names(orderTargets([t('only', 5, 0)]))).toEqual(['only']);
  expect(orderTargets([])).toEqual([]);
});

// ---------------------------------------------------------------- the stage

const doc = (fallbackOn?: FallbackCondition[]) => ({
  backends: [
    { name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' },
    { name: 'b', type: 'anthropic' as const, baseURL: 'http://127.0.0.1:9' },
    { name: 'c', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1' },
  ],
  routes: [
    {
      model: 'm',
      backends: [
        { backend: 'a', model: 'small' },
        { backend: 'b', model: 'large' },
        { backend: 'c', model: 'other' },
      ],
      ...(fallbackOn ? { fallbackOn } : {}),
    },
  ],
});

const fail = (code: AirouteError['code'], status: number, details: ErrorDetails = {}) => new AirouteError(code, status, `${code} from test`, details);
const exhausted = () => fail('upstream_error', 503, { retriable: true, fallback: 'retries_exhausted' });
const incompatible = () => fail('unsupported_parameter', 400, { incompatible: true });

/** A `next` whose outcome per backend is scripted: an error to throw, or (absent) an answer. */
function scripted(outcomes: Record<string, AirouteError | undefined>) {
  return vi.fn<Handler<TargetExchange>>((tx) => {
    const err = outcomes[tx.target.backend.name];
    return err ? Promise.reject(err) : Promise.resolve(answerFrom(tx.target));
  });
}

function run(outcomes: Record<string, AirouteError | undefined>, fallbackOn?: FallbackCondition[], x?: RouteExchange) {
  const h = harness(doc(fallbackOn));
  const ex = x ?? h.open(chatBody('m'));
  const next = scripted(outcomes);
  return { h, x: ex, next, result: fallback(next)(ex), tried: () => next.mock.calls.map(([tx]) => tx.target.backend.name) };
}

test('the first target that answers wins; the exchange below carries that target; no fallback event', async () => {
  const { h, x, next, result } = run({});
  const answer = await result;
  expect(answer.target.backend.name).toBe('a');
  expect(next).toHaveBeenCalledTimes(1);
  const passed = next.mock.calls[0]![0];
  expect(passed.target.model).toBe('small');
  expect(passed.id).toBe(x.id);
  expect('target' in x).toBe(false); // a new exchange, not the caller's changed
  expect(typesOf(h.events)).not.toContain('fallback');
});

test('retries spent on a -> b gets the request with its own model; a fallback event names from, to and the reason', async () => {
  const { h, result, tried } = run({ a: exhausted() });
  const answer = await result;
  expect(answer.target.backend.name).toBe('b');
  expect(tried()).toEqual(['a', 'b']);
  expect(dataOf(h.events, 'fallback')).toEqual([{ from: 'a', to: 'b', fromModel: 'small', toModel: 'large', reason: 'retries_exhausted' }]);
});

test('every backend failing: the last real failure is thrown, after one fallback event per hop', async () => {
  const last = fail('upstream_auth', 401, { fallback: 'auth' });
  const { h, result, tried } = run({ a: exhausted(), b: fail('model_not_found', 404, { fallback: 'model_not_found' }), c: last });
  await expect(result).rejects.toBe(last);
  expect(tried()).toEqual(['a', 'b', 'c']);
  expect(dataOf(h.events, 'fallback').map((d) => [d.from, d.to, d.reason])).toEqual([
    ['a', 'b', 'retries_exhausted'],
    ['b', 'c', 'model_not_found'],
  ]);
});

test.each<[string, AirouteError]>([
  ['a client error (400)', fail('invalid_request', 400)],
  ['a content-policy refusal', fail('content_policy', 400)],
  ['a cancelled request', fail('cancelled', 499)],
])('%s stops the walk: thrown as is, the next backend never asked', async (_name, err) => {
  const { h, result, tried } = run({ a: err });
  await expect(result).rejects.toBe(err);
  expect(tried()).toEqual(['a']);
  expect(typesOf(h.events)).not.toContain('fallback');
});

test('fallbackOn is honoured: a condition not in the route\'s list is thrown, one in it moves on', async () => {
  const onlyAuth = run({ a: exhausted() }, ['auth']);
  await expect(onlyAuth.result).rejects.toMatchObject({ code: 'upstream_error', details: { fallback: 'retries_exhausted' } });
  expect(onlyAuth.tried()).toEqual(['a']);

  const auth = run({ a: fail('upstream_auth', 401, { fallback: 'auth' }) }, ['auth']);
  await expect(auth.result).resolves.toMatchObject({ target: { backend: { name: 'b' } } });
  expect(auth.tried()).toEqual(['a', 'b']);

  const open = run({ a: fail('circuit_open', 503, { fallback: 'circuit_open' }) }, ['circuit_open']);
  await expect(open.result).resolves.toMatchObject({ target: { backend: { name: 'b' } } });
  expect(dataOf(open.h.events, 'fallback')[0]).toMatchObject({ reason: 'circuit_open' });
});

test('an incompatible backend is skipped (reason "incompatible") and the next one answers', async () => {
  const { h, result, tried } = run({ a: incompatible() });
  await expect(result).resolves.toMatchObject({ target: { backend: { name: 'b' } } });
  expect(tried()).toEqual(['a', 'b']);
  expect(dataOf(h.events, 'fallback')).toEqual([{ from: 'a', to: 'b', fromModel: 'small', toModel: 'large', reason: 'incompatible' }]);
});

test('an incompatible backend is never reported in place of a real failure, before it or after it', async () => {
  const real = exhausted();
  const before = run({ a: real, b: incompatible(), c: incompatible() });
  await expect(before.result).rejects.toBe(real);
  expect(before.tried()).toEqual(['a', 'b', 'c']);

  const realLater = exhausted();
  const after = run({ a: incompatible(), b: realLater, c: incompatible() });
  await expect(after.result).rejects.toBe(realLater);
});

test('when every backend is incompatible, the first incompatibility is what the client gets', async () => {
  const first = incompatible();
  const { result } = run({ a: first, b: incompatible(), c: incompatible() });
  await expect(result).rejects.toBe(first);
});

test('the fallback event after an incompatible backend gives "incompatible" as its reason, not the failure of a backend before it', async () => {
  const { h, result } = run({ a: exhausted(), b: incompatible(), c: undefined });
  await result;
  expect(dataOf(h.events, 'fallback').map((d) => [d.from, d.to, d.reason])).toEqual([
    ['a', 'b', 'retries_exhausted'],
    ['b', 'c', 'incompatible'],
  ]);
});

test('an aborted exchange ends the walk at once with the failure it caused', async () => {
  const h = harness(doc());
  const x = h.open(chatBody('m'));
  const err = exhausted();
  const next = vi.fn<Handler<TargetExchange>>(() => {
    x.abort(fail('cancelled', 499));
    return Promise.reject(err);
  });
  await expect(fallback(next)(x)).rejects.toBe(err);
  expect(next).toHaveBeenCalledTimes(1);
  expect(typesOf(h.events)).not.toContain('fallback');
});

test('a route with no target fails with upstream_error naming the route', async () => {
  const h = harness(doc());
  const x = h.open(chatBody('m'));
  const empty: RouteExchange = { ...x, route: { ...x.route, targets: [] } };
  const next = scripted({});
  await expect(fallback(next)(empty)).rejects.toMatchObject({ code: 'upstream_error', status: 502, message: expect.stringContaining('"m"') });
  expect(next).not.toHaveBeenCalled();
});
