import { afterEach, expect, test, vi } from 'vitest';
import { backendOf, compile } from '../../test/support/pipeline.ts';
import type { CircuitState } from './circuit-breaker.ts';
import { BUDGET_FLOOR } from './budget.ts';
import { Resilience } from './state.ts';

const doc = (consecutiveFailures: number) => ({
  backends: [
    { name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', circuit: { consecutiveFailures, cooldownMs: 1000 } },
    { name: 'b', type: 'anthropic' as const, baseURL: 'http://127.0.0.1:9', circuit: { consecutiveFailures } },
  ],
  routes: [{ model: 'm', backends: [{ backend: 'a' }, { backend: 'b' }] }],
});

afterEach(() => {
  vi.useRealTimers();
});

test('one state per backend name: the same objects on every call, and one backend failing leaves another closed', () => {
  const cfg = compile(doc(2));
  const r = new Resilience();
  const a = r.for(backendOf(cfg, 'a'));
  expect(r.for(backendOf(cfg, 'a'))).toBe(a);
  // a backend object from a newer config with the same name shares the state
  expect(r.for(backendOf(compile(doc(2)), 'a'))).toBe(a);
  a.circuit.failure();
  a.circuit.failure();
  expect(r.states()).toEqual([['a', 'open']]);
  expect(r.for(backendOf(cfg, 'b')).circuit.allow()).toBe(true);
  expect(r.states()).toEqual([
    ['a', 'open'],
    ['b', 'closed'],
  ]);
});

test('circuit listeners hear every transition with the backend name', () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(1_000_000);
  const cfg = compile(doc(1));
  const r = new Resilience();
  const heard: [string, CircuitState][] = [];
  r.onCircuitChange((backend, state) => heard.push([backend, state]));
  const a = r.for(backendOf(cfg, 'a')).circuit;
  a.failure();
  vi.setSystemTime(1_001_000);
  expect(a.allow()).toBe(true);
  a.success();
  expect(heard).toEqual([
    ['a', 'open'],
    ['a', 'half_open'],
    ['a', 'closed'],
  ]);
});

test('configure: thresholds of a new config apply to the state in place (an open circuit stays open); removed backends are forgotten', () => {
  const first = compile(doc(3));
  const r = new Resilience();
  const a = r.for(backendOf(first, 'a'));
  r.for(backendOf(first, 'b')).circuit.failure();
  a.circuit.failure();
  a.circuit.failure();
  expect(a.circuit.state).toBe('closed'); // 2 of 3

  const stricter = compile(doc(1));
  r.configure(stricter.backends);
  expect(r.for(backendOf(stricter, 'a'))).toBe(a); // kept, not rebuilt
  a.circuit.failure();
  expect(a.circuit.state).toBe('open'); // the new threshold (1) is in force

  const onlyA = compile({ ...doc(1), backends: [doc(1).backends[0]!], routes: [{ model: 'm', backends: [{ backend: 'a' }] }] });
  r.configure(onlyA.backends);
  expect(r.states()).toEqual([['a', 'open']]);
  // b comes back with fresh state
  const again = compile(doc(1));
  r.configure(again.backends);
  expect(r.for(backendOf(again, 'b')).circuit.state).toBe('closed');
});

test('configure creates state for backends not seen yet, so metrics list every configured backend', () => {
  const r = new Resilience();
  r.configure(compile(doc(5)).backends);
  expect(r.states()).toEqual([
    ['a', 'closed'],
    ['b', 'closed'],
  ]);
});

test('budget exhaustions are reported per backend', () => {
  const cfg = compile(doc(5));
  const r = new Resilience();
  const budget = r.for(backendOf(cfg, 'b')).budget;
  r.for(backendOf(cfg, 'a'));
  const t = 5_000_000;
  for (let i = 0; i < BUDGET_FLOOR; i++) expect(budget.tryRetry(0, t)).toBe(true);
  expect(budget.tryRetry(0, t)).toBe(false);
  expect(budget.tryRetry(0, t)).toBe(false);
  expect(r.budgetExhaustions()).toEqual([
    ['b', 2],
    ['a', 0],
  ]);
});
