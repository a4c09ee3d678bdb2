// In a real browser: headless Chromium loads the demo page against a real sidecar whose upstream
// drops mid-stream; the test cuts the page's event connection twice. The page's final text must
// equal the server's result exactly, and its state must show the resume and the reconnects.
import { existsSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MockProvider, sleep } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
// CI installs Chromium (.ci/apt-packages); there a missing browser is a failure, not a skip.
if (!available && process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}; .ci/run should have installed it`);

const TEXT = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ') + '.';

/** A TCP relay between the browser and the sidecar whose connections the test can cut. */
class Relay {
  private server!: Server;
  readonly sockets = new Set<Socket>();
  port = 0;
  async start(target: number): Promise<this> {
    this.server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
  cut(): number {
    const n = this.sockets.size;
    for (const s of this.sockets) s.destroy();
    return n;
  }
  async stop() {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let mock: MockProvider;
let sc: TestSidecar;
let relay: Relay;
let browser: Browser;

beforeAll(async () => {
  if (!available) return;
  mock = await new MockProvider().start();
  mock.answer = { text: TEXT, intervalMs: 35 };
  mock.faults = [{ dropAfter: 12 }];
  sc = await testSidecar(
    {
      backends: [{ name: 'up', type: 'openai-compatible', baseURL: `${mock.url}/v1` }],
      routes: [{ model: 'chat', backends: [{ backend: 'up', model: 'm' }], resume: 'prefill', timeouts: { idleMs: 500 } }],
    },
    { demoUi: true },
  );
  relay = await new Relay().start(sc.dataPort);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  await sc?.close();
  await mock?.stop();
});

test.skipIf(!available)('the demo page survives two cuts of its event connection and an upstream drop: its text equals the server result exactly', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${relay.port}/airoute/demo`);
  await page.waitForFunction(() => (document.getElementById('model') as HTMLSelectElement).options.length > 0);
  await page.selectOption('#model', 'chat');
  await page.click('#send');
  const textLength = () => page.evaluate(() => (window as unknown as { __airouteState?: { text: string } }).__airouteState?.text.length ?? 0);
  // first cut: once the stream is flowing
  while ((await textLength()) < 40) await sleep(20);
  expect(relay.cut()).toBeGreaterThan(0);
  const afterFirst = await textLength();
  // second cut: after the page reconnected and more text arrived
  while ((await textLength()) <= afterFirst + 40) await sleep(20);
  expect(relay.cut()).toBeGreaterThan(0);
  await page.waitForFunction(() => (window as unknown as { __airouteDone?: boolean }).__airouteDone === true, undefined, { timeout: 20_000 });
  const state = await page.evaluate(() => (window as unknown as { __airouteState: { text: string; status: string; resumes: number; attempts: number; gap: boolean } }).__airouteState);
  const id = await page.evaluate(() => (window as unknown as { __airouteRequest: string }).__airouteRequest);
  const server = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string; result: { choices: { message: { content: string } }[] } };
  expect(server.status).toBe('completed');
  expect(server.result.choices[0]!.message.content).toBe(TEXT);
  expect(state.text).toBe(server.result.choices[0]!.message.content);
  expect(await page.textContent('#text')).toBe(TEXT);
  expect(state.status).toBe('completed');
  expect(state.resumes).toBe(1); // the upstream drop, recovered by the sidecar
  expect(state.attempts).toBe(2);
  expect(state.gap).toBe(false);
  expect(Number(await page.textContent('#reconnects'))).toBeGreaterThanOrEqual(2);
  expect(await page.textContent('#status')).toBe('completed');
  expect(errors).toEqual([]);
  await page.close();
}, 60_000);
