import { expect, test } from 'vitest';
import { echoedHeaders, forwardedHeaders } from './headers.ts';

const client = {
  'anthropic-version': '2023-06-01',
  'anthropic-beta': ['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07'],
  authorization: 'Bearer sk-client',
  'x-api-key': 'sk-ant-client',
  'x-stainless-os': 'Linux',
};

test('same format: only the allow-listed protocol headers go upstream, repeated ones joined; never the client credentials', () => {
  expect(forwardedHeaders(client, ['anthropic-version', 'anthropic-beta'], true)).toEqual({
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'interleaved-thinking-2025-05-14, context-1m-2025-08-07',
  });
});

test('another format: nothing is forwarded; no headers at all: nothing', () => {
  expect(forwardedHeaders(client, ['anthropic-version', 'anthropic-beta'], false)).toEqual({});
  expect(forwardedHeaders(undefined, ['anthropic-version'], true)).toEqual({});
});

test("the upstream's request id comes back under its own name; absent or empty ones are left out", () => {
  expect(echoedHeaders({ 'request-id': 'req_011CS', 'x-request-id': '', server: 'cloudflare' }, ['request-id', 'x-request-id'])).toEqual({ 'request-id': 'req_011CS' });
});
