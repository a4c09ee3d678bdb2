import { expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { redactError, redactSecrets } from './classify.ts';
import { fakeKey } from '../../test/support/fake-keys.ts';

const KEY = 'my-configured-secret-value';

test('configured secrets and key-shaped strings are scrubbed; short values are not treated as secrets', () => {
  expect(redactSecrets(`a ${KEY} b`, [KEY])).toBe('a [redacted] b');
  expect(redactSecrets(`${fakeKey('sk', 'proj', 'abcdef123456')} and ${'AIza'}SyA1234567890abcdef`, [])).toBe('[redacted] and [redacted]');
  expect(redactSecrets('abc', ['abc'])).toBe('abc');
});

test('an upstream failure is scrubbed in every field it could carry, and keeps its code, status and meaning', () => {
  const err = new AirouteError('invalid_request', 400, `bad key ${KEY}`, {
    providerFormat: 'openai',
    providerType: `type ${KEY}`,
    providerCode: `code ${KEY}`,
    param: `param ${KEY}`,
    retriable: false,
    extra: { nested: { list: [`x ${KEY}`, 3] }, plain: 'fine' },
    providerBody: `{"error":{"message":"${KEY}"}}`,
    responseHeaders: { 'x-request-id': `req-${KEY}` },
  });
  const r = redactError(err, [KEY]);
  expect(JSON.stringify(r.toOpenAI())).not.toContain(KEY);
  expect(JSON.stringify(r.toAnthropic())).not.toContain(KEY);
  expect(JSON.stringify(r.details)).not.toContain(KEY);
  expect(r).toMatchObject({ code: 'invalid_request', status: 400, message: 'bad key [redacted]', details: { providerType: 'type [redacted]', providerCode: 'code [redacted]', param: 'param [redacted]', retriable: false, extra: { nested: { list: ['x [redacted]', 3] }, plain: 'fine' } } });
});
