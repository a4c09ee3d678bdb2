import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { compile as compileDoc, routeOf, targetOf } from '../../test/support/pipeline.ts';
import { configFromDocument } from '../config/load.ts';
import type { RuntimeConfig, RuntimeTarget } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';
import { BUDGET_FLOOR } from './budget.ts';
import { Resilience } from './state.ts';

// One provider account serving a large and a small model (the large one falls back to the small
// one), and another backend. Deployment circuits open after 2 failures, the host's after 3.
const doc = (extra: Record<string, unknown> = {}) => ({
  backends: [
    { name: 'acct', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures: 2, cooldownMs: 1000, host: { consecutiveFailures: 3, cooldownMs: 500 } } },
    { name: 'other', type: 'openai-compatible', baseURL: 'http://127.0.0.1:10/v1' },
  ],
  routes: [
    { model: 'chat', backends: [{ backend: 'acct', model: 'large' }, { backend: 'acct', model: 'small' }, { backend: 'other', model: 'large' }] },
    { model: 'cheap', backends: [{ backend: 'acct', model: 'small' }] },
  ],
  ...extra,
});
const compile = (d: unknown, version = 1): RuntimeConfig => configFromDocument(d, 'test', version);

let config: RuntimeConfig;
let large: RuntimeTarget;
let small: RuntimeTarget;
let otherLarge: RuntimeTarget;
let r: Resilience;
const T0 = 1_000_000_000;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  config = compile(doc());
  [large, small, otherLarge] = config.routes.get('chat')!.targets as [RuntimeTarget, RuntimeTarget, RuntimeTarget];
  r = new Resilience();
  r.configure(config);
});
afterEach(() => {
  vi.useRealTimers();
});

const status503 = () => new AirouteError('upstream_error', 503, 'overloaded', { retriable: true, fallback: 'retries_exhausted', phase: 'headers' });
const refused = () => new AirouteError('upstream_connect_failed', 502, 'ECONNREFUSED', { retriable: true, fallback: 'retries_exhausted', phase: 'connect' });
const resetBeforeHeaders = () => new AirouteError('upstream_reset', 502, 'socket hang up', { retriable: true, fallback: 'retries_exhausted', phase: 'headers' });
const noHeaders = () => new AirouteError('upstream_no_response', 504, 'silent', { retriable: true, fallback: 'retries_exhausted', phase: 'headers' });

/** One admitted attempt that got a response with an error status. */
function failWithStatus(t: RuntimeTarget): void {
  expect(r.admit(t)).toBeUndefined();
  const h = r.attempt(t);
  h.responded();
  h.failed(status503());
}

function failBeforeResponse(t: RuntimeTarget, err: AirouteError): void {
  expect(r.admit(t)).toBeUndefined();
  r.attempt(t).failed(err);
}

const stateOf = (backend: string, model?: string) => r.snapshot().find((c) => c.backend === backend && c.model === model)!.state;

test('a model whose circuit is open never blocks another model on the same backend: the small model is admitted while the large one is refused', () => {
  failWithStatus(large);
  failWithStatus(large);
  const refusedLarge = r.admit(large);
  expect(refusedLarge?.code).toBe('circuit_open');
  expect(refusedLarge?.details.fallback).toBe('circuit_open');
  expect(refusedLarge?.details.extra).toEqual({ circuit: 'deployment', backend: 'acct', model: 'large' });
  expect(r.admit(small)).toBeUndefined();
  expect(r.admit(otherLarge)).toBeUndefined(); // same model name, other backend: another deployment
  expect(stateOf('acct', 'large')).toBe('open');
  expect(stateOf('acct', 'small')).toBe('closed');
  expect(stateOf('acct')).toBe('closed'); // every attempt got a response: the host is fine
});

test('after the cool-down exactly one half-open probe reaches the model; its success closes the circuit', () => {
  failWithStatus(large);
  failWithStatus(large);
  vi.setSystemTime(T0 + 999);
  expect(r.admit(large)?.code).toBe('circuit_open');
  vi.setSystemTime(T0 + 1000);
  expect(r.admit(large)).toBeUndefined(); // the probe
  expect(r.admit(large)?.code).toBe('circuit_open'); // no second probe while it runs
  expect(r.admit(small)).toBeUndefined(); // the small model never waited on the probe
  r.attempt(large).answered();
  expect(stateOf('acct', 'large')).toBe('closed');
  expect(r.admit(large)).toBeUndefined();
});

test('host failures (connection refused, reset before any response) from several models open the host breaker, which blocks every model of that backend and no other backend', () => {
  failBeforeResponse(large, refused());
  failBeforeResponse(small, resetBeforeHeaders());
  expect(stateOf('acct')).toBe('closed');
  failBeforeResponse(small, refused());
  expect(stateOf('acct')).toBe('open');
  for (const t of [large, small]) {
    const err = r.admit(t);
    expect(err?.code).toBe('circuit_open');
    expect(err?.details.extra).toEqual({ circuit: 'host', backend: 'acct' });
  }
  expect(r.admit(otherLarge)).toBeUndefined();
  // A refused connection is the host's failure alone; the models' own circuits did not open.
  expect(stateOf('acct', 'large')).toBe('closed');
  expect(stateOf('acct', 'small')).toBe('closed');
});

test('any response from the host, whatever its status, counts for the host: model errors never open the host breaker', () => {
  for (let i = 0; i < 10; i++) {
    failWithStatus(i % 2 ? large : small);
    vi.setSystemTime(T0 + (i + 1) * 2000); // past each deployment cool-down, so every attempt is admitted
  }
  expect(stateOf('acct')).toBe('closed');
});

test('a response from any model resets the host\'s run of failures', () => {
  failBeforeResponse(large, refused());
  failBeforeResponse(large, refused());
  expect(r.admit(small)).toBeUndefined();
  r.attempt(small).answered();
  failBeforeResponse(large, refused());
  expect(stateOf('acct')).toBe('closed');
});

test('the host probe: after its cool-down one attempt (of any model) goes through; a response closes the host breaker', () => {
  for (let i = 0; i < 3; i++) failBeforeResponse(large, refused());
  vi.setSystemTime(T0 + 500);
  expect(r.admit(small)).toBeUndefined(); // the host's probe
  expect(r.admit(large)?.details.extra).toEqual({ circuit: 'host', backend: 'acct' });
  const h = r.attempt(small);
  h.responded();
  h.answered();
  expect(stateOf('acct')).toBe('closed');
  expect(r.admit(large)).toBeUndefined();
});

test('a deployment probe refused by the open host breaker is given back: the model is probed once the host lets it through', () => {
  failWithStatus(large);
  failWithStatus(large); // the large model's circuit opens
  for (let i = 0; i < 3; i++) failBeforeResponse(small, refused()); // then the host's
  vi.setSystemTime(T0 + 1000); // both cool-downs passed; the host probe goes to the small model first
  expect(r.admit(small)).toBeUndefined();
  expect(r.admit(large)?.details.extra).toMatchObject({ circuit: 'host' }); // the large model's probe slot is returned
  r.attempt(small).answered(); // host closed
  expect(r.admit(large)).toBeUndefined(); // the large model's probe
  expect(r.admit(large)?.details.extra).toMatchObject({ circuit: 'deployment' });
});

test('a silent model (no response headers) counts against that model, not the host', () => {
  failBeforeResponse(large, noHeaders());
  failBeforeResponse(large, noHeaders());
  expect(stateOf('acct', 'large')).toBe('open');
  expect(stateOf('acct')).toBe('closed');
  expect(r.admit(small)).toBeUndefined();
});

test('a client-side failure (400) and a refused prefill are neutral: they free a probe but never open a circuit', () => {
  const bad = new AirouteError('invalid_request', 400, 'bad');
  const prefill = new AirouteError('prefill_rejected', 400, 'no prefix', { retriable: true, retryAfterMs: 0, fallback: 'prefill_rejected' });
  for (let i = 0; i < 5; i++) {
    expect(r.admit(large)).toBeUndefined();
    const h = r.attempt(large);
    h.responded();
    h.failed(i % 2 ? bad : prefill);
  }
  expect(stateOf('acct', 'large')).toBe('closed');
});

test('retry budgets are per deployment: the large model spending its budget leaves the small model\'s whole', () => {
  const budgetLarge = r.deployment(large).budget;
  const budgetSmall = r.deployment(small).budget;
  let allowed = 0;
  while (budgetLarge.tryRetry(0)) allowed++;
  expect(allowed).toBeGreaterThan(0);
  expect(budgetLarge.exhausted).toBe(1);
  expect(budgetSmall.tryRetry(0)).toBe(true);
  expect(r.budgetExhaustions()).toEqual(
    expect.arrayContaining([
      { backend: 'acct', model: 'large', exhausted: 1 },
      { backend: 'acct', model: 'small', exhausted: 0 },
    ]),
  );
  // Two routes naming the same deployment share its state.
  expect(r.deployment(config.routes.get('cheap')!.targets[0]!)).toBe(r.deployment(small));
});

test('every breaker the config names is reported from the start, labelled by (backend, model); only what is not closed is listed for readiness', () => {
  expect(r.snapshot()).toEqual([
    { level: 'host', backend: 'acct', state: 'closed' },
    { level: 'deployment', backend: 'acct', model: 'large', state: 'closed' },
    { level: 'deployment', backend: 'acct', model: 'small', state: 'closed' },
    { level: 'host', backend: 'other', state: 'closed' },
    { level: 'deployment', backend: 'other', model: 'large', state: 'closed' },
  ]);
  failWithStatus(large);
  failWithStatus(large);
  expect(r.notClosed()).toEqual([{ level: 'deployment', backend: 'acct', model: 'large', state: 'open' }]);
});

test('state changes are announced per level with backend and model', () => {
  const seen: string[] = [];
  r.onCircuitChange((c) => seen.push(`${c.level} ${c.backend}${c.model ? `/${c.model}` : ''} ${c.state}`));
  failWithStatus(large);
  failWithStatus(large);
  for (let i = 0; i < 3; i++) failBeforeResponse(small, refused());
  expect(seen).toEqual(['deployment acct/large open', 'host acct open']);
});

test('a new config: state carries over for deployments it still names, with its thresholds; the rest is forgotten', () => {
  failWithStatus(large);
  failWithStatus(large);
  const next = compile(
    {
      ...doc(),
      backends: [{ name: 'acct', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures: 1, cooldownMs: 1000 } }],
      routes: [{ model: 'chat', backends: [{ backend: 'acct', model: 'large' }, { backend: 'acct', model: 'tiny' }] }],
    },
    2,
  );
  r.configure(next);
  expect(r.snapshot()).toEqual([
    { level: 'host', backend: 'acct', state: 'closed' },
    { level: 'deployment', backend: 'acct', model: 'large', state: 'open' },
    { level: 'deployment', backend: 'acct', model: 'tiny', state: 'closed' },
  ]);
  const tiny = next.routes.get('chat')!.targets[1]!;
  failWithStatus(tiny); // the new threshold (1) applies
  expect(stateOf('acct', 'tiny')).toBe('open');
});

// ---------------------------------------------------------------- identity, listeners, configure, budgets
// (first written per backend by the stage unit tests; per deployment since state is kept per backend x model)

const plain = (consecutiveFailures: number) => ({
  backends: [
    { name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures, cooldownMs: 1000 } },
    { name: 'b', type: 'anthropic' as const, baseURL: 'http://127.0.0.1:9', circuit: { consecutiveFailures } },
  ],
  routes: [{ model: 'm', backends: [{ backend: 'a' }, { backend: 'b' }] }],
});

test('one state per deployment (backend x model): the same objects on every call, also for a newer config\'s target; one deployment failing leaves another closed', () => {
  const cfg = compileDoc(plain(2));
  const fresh = new Resilience();
  const a = fresh.deployment(targetOf(routeOf(cfg, 'm'), 'a'));
  expect(fresh.deployment(targetOf(routeOf(cfg, 'm'), 'a'))).toBe(a);
  // a target object from a newer config naming the same backend and model shares the state
  expect(fresh.deployment(targetOf(routeOf(compileDoc(plain(2)), 'm'), 'a'))).toBe(a);
  a.circuit.failure();
  a.circuit.failure();
  expect(fresh.notClosed()).toEqual([{ level: 'deployment', backend: 'a', model: 'm', state: 'open' }]);
  expect(fresh.admit(targetOf(routeOf(cfg, 'm'), 'b'))).toBeUndefined();
  expect(fresh.snapshot().filter((c) => c.level === 'deployment')).toEqual([
    { level: 'deployment', backend: 'a', model: 'm', state: 'open' },
    { level: 'deployment', backend: 'b', model: 'm', state: 'closed' },
  ]);
});

test('circuit listeners hear every transition with the level, backend and model', () => {
  vi.setSystemTime(1_000_000);
  const cfg = compileDoc(plain(1));
  const fresh = new Resilience();
  const heard: string[] = [];
  fresh.onCircuitChange((c) => heard.push(`${c.level} ${c.backend}/${c.model ?? '-'} ${c.state}`));
  const a = fresh.deployment(targetOf(routeOf(cfg, 'm'), 'a')).circuit;
  a.failure();
  vi.setSystemTime(1_001_000);
  expect(a.allow()).toBe(true);
  a.success();
  expect(heard).toEqual(['deployment a/m open', 'deployment a/m half_open', 'deployment a/m closed']);
});

test('configure: thresholds of a new config apply to the state in place (an open circuit stays open); deployments it no longer names are forgotten and come back fresh', () => {
  const first = compileDoc(plain(3));
  const fresh = new Resilience();
  fresh.configure(first);
  const a = fresh.deployment(targetOf(routeOf(first, 'm'), 'a'));
  fresh.deployment(targetOf(routeOf(first, 'm'), 'b')).circuit.failure();
  a.circuit.failure();
  a.circuit.failure();
  expect(a.circuit.state).toBe('closed'); // 2 of 3

  const stricter = compileDoc(plain(1));
  fresh.configure(stricter);
  expect(fresh.deployment(targetOf(routeOf(stricter, 'm'), 'a'))).toBe(a); // kept, not rebuilt
  a.circuit.failure();
  expect(a.circuit.state).toBe('open'); // the new threshold (1) is in force

  const onlyA = compileDoc({ ...plain(1), backends: [plain(1).backends[0]!], routes: [{ model: 'm', backends: [{ backend: 'a' }] }] });
  fresh.configure(onlyA);
  expect(fresh.snapshot()).toEqual([
    { level: 'host', backend: 'a', state: 'closed' },
    { level: 'deployment', backend: 'a', model: 'm', state: 'open' },
  ]);
  // b comes back with fresh state
  const again = compileDoc(plain(1));
  fresh.configure(again);
  expect(fresh.deployment(targetOf(routeOf(again, 'm'), 'b')).circuit.state).toBe('closed');
});

test('configure creates state for deployments and hosts not seen yet, so metrics list every configured one from the start', () => {
  const fresh = new Resilience();
  fresh.configure(compileDoc(plain(5)));
  expect(fresh.snapshot()).toEqual([
    { level: 'host', backend: 'a', state: 'closed' },
    { level: 'deployment', backend: 'a', model: 'm', state: 'closed' },
    { level: 'host', backend: 'b', state: 'closed' },
    { level: 'deployment', backend: 'b', model: 'm', state: 'closed' },
  ]);
});

test('budget exhaustions are reported per deployment', () => {
  const cfg = compileDoc(plain(5));
  const fresh = new Resilience();
  const budget = fresh.deployment(targetOf(routeOf(cfg, 'm'), 'b')).budget;
  fresh.deployment(targetOf(routeOf(cfg, 'm'), 'a'));
  const t = 5_000_000;
  for (let i = 0; i < BUDGET_FLOOR; i++) expect(budget.tryRetry(0, t)).toBe(true);
  expect(budget.tryRetry(0, t)).toBe(false);
  expect(budget.tryRetry(0, t)).toBe(false);
  expect(fresh.budgetExhaustions()).toEqual([
    { backend: 'b', model: 'm', exhausted: 2 },
    { backend: 'a', model: 'm', exhausted: 0 },
  ]);
});
