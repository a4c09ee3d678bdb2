import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AirouteError } from '../errors.ts';
import { MAX_JSON_DEPTH, parseJsonBody, parseJsonObject, readBody } from './body.ts';

const nested = (n: number) => `{"a":${'['.repeat(n - 1)}${']'.repeat(n - 1)}}`;

test('the parsed body comes with its text and where its top-level members are, from the same scan', () => {
  const text = '{"model": "a", "messages": [{"role":"user","content":"model"}]}';
  const { body, raw } = parseJsonBody(Buffer.from(text));
  expect(body.model).toBe('a');
  expect(raw.text).toBe(text);
  const span = raw.members?.get('model');
  expect(span && text.slice(span.start, span.end)).toBe('"a"');
});

test(`a body nested ${MAX_JSON_DEPTH} levels is accepted; one level more is a 400 that names the limit, not a stack overflow later`, () => {
  expect(parseJsonObject(nested(MAX_JSON_DEPTH))).toHaveProperty('a');
  const err = (() => {
    try {
      parseJsonObject(nested(200_000));
    } catch (e) {
      return e;
    }
  })();
  expect(err).toBeInstanceOf(AirouteError);
  expect(err).toMatchObject({ status: 400, code: 'invalid_request' });
  expect((err as Error).message).toContain(String(MAX_JSON_DEPTH));
  expect(() => parseJsonObject(nested(MAX_JSON_DEPTH + 1))).toThrow(/deeper than/);
});

describe('readBody on a real connection', () => {
  let server: Server;
  let port = 0;
  // Wrapped: a promise resolved with a promise would wait for the body itself.
  let onBody: (r: { body: Promise<Buffer> }) => void = () => undefined;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = readBody(req, 1024);
      body.catch(() => undefined);
      onBody({ body });
      res.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const next = () => new Promise<{ body: Promise<Buffer> }>((r) => (onBody = r));

  test('a body sent in several chunks arrives whole', async () => {
    const got = next();
    const s = connect(port, '127.0.0.1');
    s.write('POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    const { body } = await got;
    s.write('6\r\n world\r\n0\r\n\r\n');
    expect((await body).toString()).toBe('hello world');
    s.destroy();
  });

  test('past the limit: a 413 body_too_large, whether the length was declared or the chunks just kept coming', async () => {
    const declared = next();
    const a = connect(port, '127.0.0.1');
    a.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n');
    await expect((await declared).body).rejects.toMatchObject({ code: 'body_too_large', status: 413 });
    a.destroy();
    const streamed = next();
    const b = connect(port, '127.0.0.1');
    b.write('POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
    const { body } = await streamed;
    for (let i = 0; i < 3; i++) b.write(`200\r\n${'x'.repeat(512)}\r\n`);
    await expect(body).rejects.toMatchObject({ code: 'body_too_large' });
    b.destroy();
  });

  test('a client that leaves mid-body: the read ends as cancelled (499), not as a defect of the sidecar', async () => {
    const got = next();
    const s = connect(port, '127.0.0.1');
    s.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"model":');
    const { body } = await got;
    s.destroy();
    await expect(body).rejects.toBeInstanceOf(AirouteError);
    await expect(body).rejects.toMatchObject({ code: 'cancelled', status: 499 });
  });
});
