// Drain on real HTTP servers: what a request in flight, a new request and the deadline each get.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { Drain, drainDeadline } from './drain.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A data port whose handler answers after `release()` is called (a stream still running). */
async function slowServer(drain: Drain): Promise<{ url: string; release: () => void }> {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  server = createServer(
    drain.guard((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      void gate.then(() => res.end('data: [DONE]\n\n'));
    }),
  );
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, release };
}

describe('Drain', () => {
  test('a request in flight when draining starts finishes in full; drain resolves clean only after it', async () => {
    const drain = new Drain();
    const { url, release } = await slowServer(drain);
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST' });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
    expect(drain.inFlight).toBe(1);
    let resolved = false;
    const done = drain.drain(10_000).then((r) => ((resolved = true), r));
    expect(drain.draining).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(resolved).toBe(false); // held up by the stream
    release();
    let rest = '';
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
    expect(rest).toBe('data: [DONE]\n\n');
    expect(await done).toEqual({ clean: true, leftRequests: 0, leftAsync: 0 });
  });

  test('a new request while draining → 503 unavailable in the endpoint’s shape (OpenAI, Anthropic), connection: close', async () => {
    const drain = new Drain();
    const { url, release } = await slowServer(drain);
    void drain.drain(10_000);
    const openai = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(openai.status).toBe(503);
    expect(openai.headers.get('connection')).toBe('close');
    expect(openai.headers.get('retry-after')).toBe('1');
    expect(await openai.json()).toMatchObject({ error: { code: 'unavailable', type: 'server_error', message: expect.stringContaining('shutting down') } });
    const anthropic = await fetch(`${url}/v1/messages`, { method: 'POST', body: '{}' });
    expect(anthropic.status).toBe(503);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('shutting down') } });
    expect(drain.inFlight).toBe(0); // refused requests never counted
    release();
  });

  test('async requests hold the drain up too; the deadline ends it with what was left', async () => {
    let asyncRunning = 1;
    const drain = new Drain(() => asyncRunning);
    const r = await drain.drain(150);
    expect(r).toEqual({ clean: false, leftRequests: 0, leftAsync: 1 });
    asyncRunning = 0;
    expect(await new Drain(() => asyncRunning).drain(10_000)).toEqual({ clean: true, leftRequests: 0, leftAsync: 0 });
  });

  test('--drain-timeout: durations and the default', () => {
    expect(drainDeadline(undefined)).toBe(25_000);
    expect(drainDeadline('28s')).toBe(28_000);
    expect(drainDeadline('1500ms')).toBe(1500);
    expect(drainDeadline('3')).toBe(3000);
    expect(() => drainDeadline('soon')).toThrow(/--drain-timeout: not a duration: soon/);
  });
});
