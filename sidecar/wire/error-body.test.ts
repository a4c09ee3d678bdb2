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

// Azure OpenAI's content-filter refusal: `type` null and an `innererror` with the filter's verdict,
// neither of which the sidecar's own OpenAI error shape would carry.
const azureFiltered =
  '{"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI\'s content management policy.","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}';

test("an OpenAI client gets every field of an OpenAI-format provider's error body, Azure's innererror and null type included", () => {
  const err = new AirouteError('content_policy', 400, "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", {
    providerFormat: 'openai',
    providerCode: 'content_filter',
    param: 'prompt',
    providerBody: azureFiltered,
  });
  expect(CLIENT_CODECS.openai.errorBody(err)).toEqual(JSON.parse(azureFiltered));
});

test("an Anthropic client gets an Anthropic provider's error body as it came, its request_id included", () => {
  const overloaded = '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}';
  const err = new AirouteError('upstream_overloaded', 529, 'Overloaded', { providerFormat: 'anthropic', providerType: 'overloaded_error', providerBody: overloaded });
  expect(CLIENT_CODECS.anthropic.errorBody(err)).toEqual(JSON.parse(overloaded));
  // An OpenAI client of the same failure gets its own shape, never the Anthropic body.
  expect(CLIENT_CODECS.openai.errorBody(err)).toEqual({ error: { message: 'Overloaded', type: 'server_error', param: null, code: 'upstream_overloaded' } });
});

test('a JSON body without an error object (an OpenAI-compatible server\'s {"detail": ...}) is reworded, never passed through', () => {
  const err = new AirouteError('upstream_error', 404, 'upstream answered 404: Not Found', { providerFormat: 'openai', providerCode: null, providerBody: '{"detail":"Not Found"}' });
  expect(CLIENT_CODECS.openai.errorBody(err)).toEqual({ error: { message: 'upstream answered 404: Not Found', type: 'invalid_request_error', param: null, code: null } });
});

test("the Responses API's error body is always the sidecar's OpenAI shape, even for an OpenAI provider's body", () => {
  const err = new AirouteError('content_policy', 400, 'filtered', { providerFormat: 'openai', providerCode: 'content_filter', param: 'prompt', providerBody: azureFiltered });
  expect(CLIENT_CODECS.responses.errorBody(err)).toEqual({ error: { message: 'filtered', type: 'invalid_request_error', param: 'prompt', code: 'content_filter' } });
});
