import { expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { CLIENT_CODECS } from './clients.ts';

const openai503 = '{"error":{"message":"The server is overloaded.","type":"server_error","param":null,"code":null}}';

test("a same-format client gets the provider's error body as it came: code null stays null", () => {
  const err = new AirouteError('upstream_error', 503, 'The server is overloaded.', { providerFormat: 'openai', providerType: 'server_error', providerCode: null, providerBody: openai503 });
  expect(CLIENT_CODECS.openai.errorBody(err)).toEqual(JSON.parse(openai503));
});

test("a client of another format gets the error in its own shape, with the provider's message", () => {
  const err = new AirouteError('upstream_error', 503, 'The server is overloaded.', { providerFormat: 'openai', providerType: 'server_error', providerCode: null, providerBody: openai503 });
  expect(CLIENT_CODECS.anthropic.errorBody(err)).toEqual({ type: 'error', error: { type: 'api_error', message: 'The server is overloaded.' } });
});

test("a body that is not the format's error object (a proxy's HTML page) is reworded, never passed through", () => {
  const err = new AirouteError('upstream_error', 502, 'upstream answered 502: <html>Bad gateway</html>', { providerFormat: 'openai', providerCode: null, providerBody: '<html>Bad gateway</html>' });
  expect(CLIENT_CODECS.openai.errorBody(err)).toEqual({ error: { message: 'upstream answered 502: <html>Bad gateway</html>', type: 'server_error', param: null, code: null } });
});
