import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DISCARD_LIMIT, HIGH_WATER, HttpTransport, splitUrl } from './http.ts';
import { cancellationOf } from './transport.ts';

let server: Server;
let base = '';
let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
const transport = new HttpTransport();

beforeAll(async () => {
  server = createServer((req, res) => handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await transport.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Sends with a cancellation that follows `signal` (what token counting does; attempts pass their AttemptClock). */
const send = (path: string, signal = new AbortController().signal, body = '{}') =>
  transport.send({ url: `${base}${path}`, method: 'POST', headers: { 'content-type': 'application/json', 'x-test': 'yes' }, body }, { cancel: cancellationOf(signal), connectTimeoutMs: 1000 });

async function text(body: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const c of body) out += Buffer.from(c).toString('utf8');
  return out;
}

test('splitUrl: origin and path of absolute URLs, without a URL object', () => {
  expect(splitUrl('https://api.openai.com/v1/chat/completions?x=1')).toEqual({ origin: 'https://api.openai.com', path: '/v1/chat/completions?x=1' });
  expect(splitUrl('http://[::1]:8080')).toEqual({ origin: 'http://[::1]:8080', path: '/' });
  expect(() => splitUrl('/relative')).toThrow(/not an absolute URL/);
});

test('sends method, path, headers and body; answers status, headers and the body as it arrives', async () => {
  handle = (req, res) => {
    let got = '';
    req.on('data', (d: Buffer) => (got += d.toString()));
    req.on('end', () => {
      res.writeHead(201, { 'x-request-id': 'req_1', 'content-type': 'text/plain' });
      res.write(`${req.method} ${req.url} ${req.headers['x-test']} `);
      setTimeout(() => res.end(got), 10);
    });
  };
  const r = await send('/v1/x?q=1', undefined, '{"a":1}');
  expect(r.status).toBe(201);
  expect(r.headers['x-request-id']).toBe('req_1');
  expect(await text(r.body)).toBe('POST /v1/x?q=1 yes {"a":1}');
});

test('a reader that does not read: the upstream socket is paused at the high-water mark, not buffered without end', async () => {
  let written = 0;
  let blocked = false;
  handle = (_req, res) => {
    res.writeHead(200);
    const chunk = Buffer.alloc(16 * 1024, 97);
    const pump = () => {
      while (written < 8 * 1024 * 1024) {
        written += chunk.length;
        if (!res.write(chunk)) {
          blocked = true;
          return void res.once('drain', pump);
        }
      }
      res.end();
    };
    pump();
  };
  const r = await send('/big');
  await sleep(200);
  // The kernel's socket buffers hold some; the rest waits at the server: far less than the 8 MiB answer.
  expect(blocked).toBe(true);
  expect(written).toBeLessThan(8 * 1024 * 1024);
  let read = 0;
  for await (const c of r.body) read += c.byteLength;
  expect(read).toBe(8 * 1024 * 1024);
  expect(HIGH_WATER).toBeLessThan(1024 * 1024);
});

test('discard() reads a small rest away and keeps the connection for the next request', async () => {
  const ports: number[] = [];
  handle = (req, res) => {
    ports.push(req.socket.remotePort!);
    res.writeHead(200);
    res.write('start');
    setTimeout(() => res.end('x'.repeat(1000)), 5);
  };
  const a = await send('/a');
  a.discard();
  await sleep(50);
  handle = (req, res) => {
    ports.push(req.socket.remotePort!);
    res.end('second');
  };
  const b = await send('/b');
  expect(await text(b.body)).toBe('second');
  expect(ports).toHaveLength(2);
  expect(ports[1]).toBe(ports[0]); // the same connection served both
});

test('discard() of a body larger than the limit closes the connection instead of reading it all', async () => {
  let closed = false;
  handle = (_req, res) => {
    res.writeHead(200);
    res.on('close', () => (closed = true));
    const chunk = Buffer.alloc(64 * 1024, 98);
    let n = 0;
    const pump = () => {
      while (n++ < 64) if (!res.write(chunk)) return void res.once('drain', pump);
      res.end();
    };
    pump();
  };
  const r = await send('/huge');
  r.discard();
  for (let i = 0; i < 100 && !closed; i++) await sleep(10);
  expect(closed).toBe(true);
  expect(DISCARD_LIMIT).toBeLessThan(64 * 64 * 1024);
});

test('an abort before the headers rejects with the signal reason; an abort mid-body fails the read with it', async () => {
  handle = () => undefined; // never answers
  const ac = new AbortController();
  const pending = send('/hang', ac.signal);
  await sleep(20);
  const reason = new Error('first token timeout');
  ac.abort(reason);
  await expect(pending).rejects.toBe(reason);

  handle = (_req, res) => {
    res.writeHead(200);
    res.write('part');
  };
  const ac2 = new AbortController();
  const r = await send('/stall', ac2.signal);
  const it = r.body[Symbol.asyncIterator]();
  expect(Buffer.from((await it.next()).value as Uint8Array).toString()).toBe('part');
  const reading = it.next();
  const reason2 = new Error('idle');
  ac2.abort(reason2);
  await expect(reading).rejects.toBe(reason2);
});

test('an already aborted signal sends nothing', async () => {
  let hits = 0;
  handle = (_req, res) => {
    hits++;
    res.end();
  };
  const ac = new AbortController();
  ac.abort(new Error('gone'));
  await expect(send('/never', ac.signal)).rejects.toThrow('gone');
  await sleep(20);
  expect(hits).toBe(0);
});

test('a refused connection rejects with the errno the attempt classifies (ECONNREFUSED)', async () => {
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const port = (dead.address() as AddressInfo).port;
  await new Promise((r) => dead.close(r));
  const err = (await transport.send({ url: `http://127.0.0.1:${port}/x`, method: 'POST', headers: {}, body: '' }, { cancel: cancellationOf(new AbortController().signal), connectTimeoutMs: 500 }).catch((e: unknown) => e)) as { code?: string };
  expect(err.code).toBe('ECONNREFUSED');
});
