// A provider that gives up after the response headers can only say so inside the stream. OpenAI
// and Anthropic both send an `error` object with a `type` and a `message`; it becomes a
// retriable failure of the attempt, keeping the provider's own type and code so a client of the
// same format sees them unchanged.
import { AirouteError } from '../errors.ts';
import { isObject } from './json.ts';

/** An `{"error": ...}` object inside a stream: the provider gave up after the headers. */
export function inStreamError(err: unknown, format: 'openai' | 'anthropic'): AirouteError {
  const e = isObject(err) ? err : {};
  const type = typeof e.type === 'string' ? e.type : undefined;
  const message = typeof e.message === 'string' ? e.message : 'upstream reported an error mid-stream';
  const overloaded = type === 'overloaded_error' || type === 'rate_limit_error';
  return new AirouteError(overloaded ? 'upstream_overloaded' : 'upstream_error', overloaded ? 529 : 502, message, {
    retriable: true,
    fallback: 'retries_exhausted',
    phase: 'stream',
    providerFormat: format,
    providerType: type,
    providerCode: typeof e.code === 'string' ? e.code : null,
  });
}
