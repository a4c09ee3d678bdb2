import { expect, test } from 'vitest';
import { inStreamError } from './stream-error.ts';

test("Anthropic's in-stream overloaded_error → retriable upstream_overloaded 529 keeping the provider's type", () => {
  // The documented `event: error` payload: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}
  const err = inStreamError({ type: 'overloaded_error', message: 'Overloaded' }, 'anthropic');
  expect(err.code).toBe('upstream_overloaded');
  expect(err.status).toBe(529);
  expect(err.message).toBe('Overloaded');
  expect(err.retriable).toBe(true);
  expect(err.details).toMatchObject({ phase: 'stream', fallback: 'retries_exhausted', providerFormat: 'anthropic', providerType: 'overloaded_error', providerCode: null });
  // A same-format client sees the provider's own type, not one invented here.
  expect(err.toAnthropic()).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
});

test('a rate_limit_error mid-stream counts as overloaded too (529), not as a generic upstream error', () => {
  const err = inStreamError({ type: 'rate_limit_error', message: 'slow down' }, 'anthropic');
  expect(err.code).toBe('upstream_overloaded');
  expect(err.status).toBe(529);
});

test("OpenAI's in-stream server_error with a code → retriable upstream_error 502; the OpenAI shape keeps type and code", () => {
  const err = inStreamError({ message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: 'internal_error' }, 'openai');
  expect(err.code).toBe('upstream_error');
  expect(err.status).toBe(502);
  expect(err.retriable).toBe(true);
  expect(err.details.providerCode).toBe('internal_error');
  expect(err.toOpenAI().error).toEqual({ message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: 'internal_error' });
});

test('an error that is not an object still ends the attempt as a retriable upstream_error with a generic message', () => {
  const err = inStreamError('boom', 'openai');
  expect(err.code).toBe('upstream_error');
  expect(err.message).toBe('upstream reported an error mid-stream');
  expect(err.details.providerType).toBeUndefined();
  expect(err.retriable).toBe(true);
});
