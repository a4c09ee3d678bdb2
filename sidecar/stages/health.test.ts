import { expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { AttemptHealth, isDeploymentFailure, isHostFailure } from './health.ts';

const retriable = { retriable: true, fallback: 'retries_exhausted' } as const;
const err = (code: ConstructorParameters<typeof AirouteError>[0], status: number, details: ConstructorParameters<typeof AirouteError>[3] = {}) => new AirouteError(code, status, code, details);

test.each<[string, AirouteError, boolean, boolean]>([
  ['connection refused / DNS / TLS', err('upstream_connect_failed', 502, { ...retriable, phase: 'connect' }), true, false],
  ['a reset before any response', err('upstream_reset', 502, { ...retriable, phase: 'headers' }), true, true],
  ['a reset mid-stream (the host had answered)', err('upstream_reset', 502, { ...retriable, phase: 'stream' }), false, true],
  ['no response headers in time', err('upstream_no_response', 504, { ...retriable, phase: 'headers' }), false, true],
  ['no first token in time', err('upstream_first_token_timeout', 504, { ...retriable, phase: 'first_token' }), false, true],
  ['a 429', err('upstream_rate_limited', 429, { ...retriable, phase: 'headers' }), false, true],
  ['a 503', err('upstream_error', 503, { ...retriable, phase: 'headers' }), false, true],
  ['a malformed chunk', err('upstream_malformed', 502, { ...retriable, phase: 'stream' }), false, true],
  ['a refused assistant prefix', err('prefill_rejected', 400, { retriable: true, retryAfterMs: 0, fallback: 'prefill_rejected' }), false, false],
  ['a client error (400)', err('invalid_request', 400), false, false],
  ['context too long', err('context_length_exceeded', 400, { fallback: 'context_length' }), false, false],
])('%s: against the host %s, against the deployment %s', (_name, e, host, deployment) => {
  expect(isHostFailure(e)).toBe(host);
  expect(isDeploymentFailure(e)).toBe(deployment);
});

const settings = { consecutiveFailures: 1, failureRatePercent: 50, minimumRequests: 100, windowMs: 10_000, cooldownMs: 1000 };
const pair = () => ({ deployment: new CircuitBreaker(settings), host: new CircuitBreaker(settings) });

test('a model error after the headers: the host is alive (a success for it), the deployment failed', () => {
  const b = pair();
  const h = new AttemptHealth(b.deployment, b.host);
  h.responded();
  h.failed(err('upstream_error', 503, { ...retriable, phase: 'headers' }));
  expect(b.host.state).toBe('closed');
  expect(b.deployment.state).toBe('open');
});

test('a connect failure: the host failed, the deployment heard nothing against it', () => {
  const b = pair();
  new AttemptHealth(b.deployment, b.host).failed(err('upstream_connect_failed', 502, { ...retriable, phase: 'connect' }));
  expect(b.host.state).toBe('open');
  expect(b.deployment.state).toBe('closed');
});

test('the host hears one outcome per attempt: a failure after the response never counts against it', () => {
  const b = pair();
  const h = new AttemptHealth(b.deployment, b.host);
  h.answered();
  h.failed(err('upstream_reset', 502, { ...retriable, phase: 'headers' })); // a phase mislabel must not reach the host twice
  expect(b.host.state).toBe('closed');
  expect(b.deployment.state).toBe('open'); // a failure after content still counts against the model
});

test('half-open probes of both breakers are given back by a neutral outcome', () => {
  const b = pair();
  const t = Date.now();
  b.deployment.failure(t);
  b.host.failure(t);
  expect(b.deployment.allow(t + 1000)).toBe(true);
  expect(b.host.allow(t + 1000)).toBe(true);
  new AttemptHealth(b.deployment, b.host).failed(err('invalid_request', 400));
  expect(b.deployment.allow(t + 1001)).toBe(true);
  expect(b.host.allow(t + 1001)).toBe(true);
});
