import { expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { chatBody, chatRequest, harness, routeOf } from '../../test/support/pipeline.ts';
import { openExchange } from './open.ts';

const doc = {
  backends: [{ name: 'a', type: 'openai-compatible' as const, baseURL: 'http://127.0.0.1:9/v1', apiKey: { value: 'sk-open-test-key-000' } }],
  routes: [{ model: 'm', backends: [{ backend: 'a' }] }],
};

test('an opened exchange has said request.accepted (seq 1, attempt 0) to the sidecar\'s listeners, with what was asked', () => {
  const h = harness(doc);
  const x = openExchange(h.sc, 'req-open', chatRequest(chatBody('m', { stream: true, format: 'anthropic' }), 'anthropic'), routeOf(h.config, 'm'), h.config);
  expect(h.events).toEqual([
    { requestId: 'req-open', seq: 1, ts: expect.any(Number), attempt: 0, type: 'request.accepted', data: { operation: 'chat', format: 'anthropic', model: 'm', stream: true } },
  ]);
  expect(x.lifecycle.requestId).toBe('req-open');
  expect(x.lifecycle.lastSeq).toBe(1);
});

test('the exchange carries its request, route, the process-wide state and the config\'s secrets; no deadline yet, not aborted, nothing running', () => {
  const h = harness(doc);
  const request = chatRequest(chatBody('m'));
  const route = routeOf(h.config, 'm');
  const x = openExchange(h.sc, 'r', request, route, h.config);
  expect(x.request).toBe(request);
  expect(x.route).toBe(route);
  expect(x.resilience).toBe(h.sc.resilience);
  expect(x.transport).toBe(h.sc.transportFor);
  expect(x.secrets).toEqual(['sk-open-test-key-000']);
  expect(x.deadline).toBe(Number.POSITIVE_INFINITY);
  expect(x.resume).toBeUndefined();
  expect(x.scope.aborted).toBe(false);
  expect(x.scope.occupied).toBe(false);
});

test('abort: the first reason wins; a second abort neither throws nor replaces it', () => {
  const h = harness(doc);
  const x = h.open(chatBody('m'));
  let heard = 0;
  x.scope.signal.addEventListener('abort', () => heard++);
  const first = new AirouteError('cancelled', 499, 'the client cancelled the request');
  x.abort(first);
  x.abort(new AirouteError('request_timeout', 504, 'late'));
  expect(x.scope.aborted).toBe(true);
  expect(x.scope.reason).toBe(first);
  expect(x.scope.signal.reason).toBe(first);
  expect(heard).toBe(1);
});

test('each exchange has its own scope and event numbering', () => {
  const h = harness(doc);
  const one = h.open(chatBody('m'));
  const two = h.open(chatBody('m'));
  one.abort(new AirouteError('cancelled', 499, 'gone'));
  expect(two.scope.aborted).toBe(false);
  expect(h.events.map((e) => [e.requestId, e.seq])).toEqual([
    [one.id, 1],
    [two.id, 1],
  ]);
});
