// What a client may send the Responses endpoints that is wrong: each gets a clear error in
// OpenAI's shape, naming what is wrong; nothing reaches the upstream; the sidecar keeps serving.
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { MockProvider } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({ backends: [{ name: 'claude', type: 'anthropic', baseURL: mock.url }], routes: [{ model: 'chat', backends: [{ backend: 'claude' }] }] });
});
afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});
beforeEach(() => mock.reset());

const call = (method: string, path: string, body?: string) =>
  fetch(`${sc.dataURL}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body } : {}) });

test.each<[string, string, string, string | undefined, number, RegExp]>([
  ['not JSON', 'POST', '/v1/responses', '{"model":', 400, /JSON/i],
  ['no input', 'POST', '/v1/responses', '{"model":"chat"}', 400, /Missing required parameter: 'input'/],
  ['an unknown route', 'POST', '/v1/responses', '{"model":"nope","input":"x"}', 404, /nope/],
  ['an input item that is not an object', 'POST', '/v1/responses', '{"model":"chat","input":[7]}', 400, /input\[0\]: must be an object/],
  ['tools that are not a list', 'POST', '/v1/responses', '{"model":"chat","input":"x","tools":{}}', 400, /'tools': expected an array/],
  ['a malformed percent-escape in the id', 'GET', '/v1/responses/%E0%A4%A', undefined, 400, /percent-escape/],
  ['an unknown action', 'POST', '/v1/responses/resp_x/approve', '{}', 404, /no such endpoint/],
  ['PUT on a response', 'PUT', '/v1/responses/resp_x', '{}', 405, /PUT is not allowed/],
  ['GET on cancel', 'GET', '/v1/responses/resp_x/cancel', undefined, 405, /GET is not allowed/],
  ['a starting_after that is not a number', 'GET', '/v1/responses/resp_00000000000000000000000000000000?stream=true&starting_after=x', undefined, 400, /starting_after/],
  ['an id never seen', 'GET', '/v1/responses/resp_never', undefined, 404, /Response with id 'resp_never' not found/],
])('%s → %s %s answers %i in the OpenAI error shape', async (_name, method, path, body, status, message) => {
  const res = await call(method, path, body);
  expect(res.status).toBe(status);
  const err = (await res.json()) as { error: { message: string; type: string } };
  expect(err.error.message).toMatch(message);
  expect(typeof err.error.type).toBe('string');
  expect(mock.received).toEqual([]);
});

test('after all of that the sidecar still answers', async () => {
  mock.answer = { text: 'still here' };
  const res = await call('POST', '/v1/responses', '{"model":"chat","input":"x"}');
  expect(((await res.json()) as { output: { content: { text: string }[] }[] }).output[0]!.content[0]!.text).toBe('still here');
});
