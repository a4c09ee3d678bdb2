// In a real browser: headless Chromium drives the demo page against a real sidecar on the
// built-in demo (no config, as `npm start` runs it). Each demo route is sent in the three
// patterns; the test reads what the page shows (badges, counters, timeline lanes, the text and
// its recovered part, the webhook's signature, the event stream's continuity) and checks it
// against what the route's script must produce. The event connection is also dropped from the
// page (by keyboard) and cut on the network (a relay between browser and sidecar).
import { existsSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULTS } from '../../api/v1alpha1/config.ts';
import { DEMO_ROUTES } from '../../sidecar/config/demo.ts';
import { cutAfter, demoTokens } from '../../sidecar/upstream/demo.ts';
import { CHROMIUM_ARGS } from '../../scripts/demo-screenshots.ts';
import { sleep } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
// CI installs Chromium (.ci/apt-packages); there a missing browser is a failure, not a skip.
if (!available && process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}; .ci/run should have installed it`);

/** The page's default prompt, and what the demo answers to it. */
const PROMPT = 'Tell me how airoute recovers a broken stream.';
const ANSWER = demoTokens(PROMPT, DEFAULTS.demo.tokens).join('');
const BEFORE_CUT = demoTokens(PROMPT, cutAfter(DEFAULTS.demo.tokens)).join('');

/** A TCP relay between the browser and the sidecar that can cut the connections carrying event streams. */
class Relay {
  private server!: Server;
  /** Each client socket with the path of the request it carries now. */
  readonly sockets = new Map<Socket, { upstream: Socket; path: string }>();
  port = 0;
  async start(target: number): Promise<this> {
    this.server = createServer((client) => {
      const upstream = connect(target, '127.0.0.1');
      const entry = { upstream, path: '' };
      this.sockets.set(client, entry);
      client.on('data', (chunk: Buffer) => {
        const line = /^(?:GET|POST|PUT|DELETE) (\S+)/.exec(chunk.toString('latin1'));
        if (line) entry.path = line[1]!;
      });
      for (const s of [client, upstream]) {
        s.on('close', () => this.sockets.delete(client));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }
  /** Destroys the connections now carrying a request's event stream; answers how many. */
  cutEventStreams(): number {
    let n = 0;
    for (const [client, { upstream, path }] of this.sockets)
      if (/^\/airoute\/v1\/requests\/[^/]+\/events/.test(path)) {
        client.destroy();
        upstream.destroy();
        n++;
      }
    return n;
  }
  async stop() {
    for (const [client, { upstream }] of this.sockets) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

let sc: TestSidecar;
let relay: Relay;
let browser: Browser;

beforeAll(async () => {
  if (!available) return;
  sc = await testSidecar(undefined, { demoUi: true });
  relay = await new Relay().start(sc.dataPort);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  await sc?.close();
});

interface PanelView {
  badge: string;
  counts: Record<string, string>;
  lanes: { attempt: string; mode: string; failure?: string; resumed?: string }[];
  waits: string[];
  hops: { from: string; to: string }[];
  terminal?: string;
  /** The text element's text without the failure marker, and its recovered parts. */
  text: string;
  recovered: string[];
  stop?: string;
  frames: number;
}

/** What a pattern's column shows, read from the DOM. */
function readPanel(page: Page, id: 'sync' | 'async' | 'events'): Promise<PanelView> {
  return page.evaluate((id) => {
    const s = document.getElementById(id)!;
    const all = (sel: string) => [...s.querySelectorAll<HTMLElement>(sel)];
    const text = s.querySelector<HTMLElement>('[data-role=text]')!;
    const clone = text.cloneNode(true) as HTMLElement;
    clone.querySelector('.stop')?.remove();
    const counts = Object.fromEntries(all('[data-count]').map((d) => [d.dataset.count!, d.textContent ?? '']));
    return {
      badge: s.querySelector('[data-role=status]')!.textContent ?? '',
      counts,
      lanes: all('.tl-row.lane').map((l) => ({ attempt: l.dataset.attempt!, mode: l.dataset.mode!, ...(l.dataset.failure ? { failure: l.dataset.failure } : {}), ...(l.dataset.resumed ? { resumed: l.dataset.resumed } : {}) })),
      waits: all('.tl-row.wait').map((w) => w.dataset.delay!),
      hops: all('.tl-row.hop').map((h) => ({ from: h.dataset.from!, to: h.dataset.to! })),
      ...(s.querySelector<HTMLElement>('[data-terminal]') ? { terminal: s.querySelector<HTMLElement>('[data-terminal]')!.dataset.terminal! } : {}),
      text: clone.textContent ?? '',
      recovered: all('[data-role=text] mark.recovered').map((m) => m.textContent ?? ''),
      ...(text.querySelector('.stop') ? { stop: text.querySelector('.stop')!.textContent!.replace(/^\s*⟂\s*/, '') } : {}),
      frames: all('[data-role=wire] li.frame').length,
    };
  }, id);
}

async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForSelector('#routes input');
  return { page, errors };
}

const waitDone = (page: Page) => page.waitForFunction(() => (window as unknown as { __demo: { done: boolean } }).__demo.done === true, undefined, { timeout: 30_000 });

/** What each route must show, in every pattern. */
const EXPECT: Record<string, { status: 'completed' | 'failed'; counts: Record<string, string>; lanes: PanelView['lanes']; waits: string[]; hops: PanelView['hops'] }> = {
  demo: { status: 'completed', counts: { attempts: '1', retries: '0', fallbacks: '0', resumes: '0' }, lanes: [{ attempt: '1', mode: 'fresh' }], waits: [], hops: [] },
  'demo-flaky': {
    status: 'completed',
    counts: { attempts: '2', retries: '0', fallbacks: '0', resumes: '1' },
    lanes: [
      { attempt: '1', mode: 'fresh', failure: 'upstream_reset' },
      { attempt: '2', mode: 'prefill', resumed: String(BEFORE_CUT.length) },
    ],
    waits: [],
    hops: [],
  },
  'demo-rate-limited': {
    status: 'completed',
    counts: { attempts: '2', retries: '1', fallbacks: '0', resumes: '0' },
    lanes: [
      { attempt: '1', mode: 'fresh', failure: 'upstream_rate_limited' },
      { attempt: '2', mode: 'fresh' },
    ],
    waits: ['1000'],
    hops: [],
  },
  'demo-down': {
    status: 'completed',
    counts: { attempts: '2', retries: '0', fallbacks: '1', resumes: '0' },
    lanes: [
      { attempt: '1', mode: 'fresh', failure: 'upstream_connect_failed' },
      { attempt: '2', mode: 'fresh' },
    ],
    waits: [],
    hops: [{ from: 'demo-down-primary', to: 'demo' }],
  },
  'demo-diverge': {
    status: 'failed',
    counts: { attempts: '2', retries: '0', fallbacks: '0', resumes: '0' },
    lanes: [
      { attempt: '1', mode: 'fresh', failure: 'upstream_reset' },
      { attempt: '2', mode: 'verify', failure: 'stream_diverged' },
    ],
    waits: [],
    hops: [],
  },
};

describe.skipIf(!available)('the demo page', () => {
  test('lists every demo route with what it shows; its only scripts are its own modules and the client/ module; no errors', async () => {
    const scripts: string[] = [];
    const context = await browser.newContext();
    context.on('request', (r) => {
      if (r.resourceType() === 'script') scripts.push(new URL(r.url()).pathname);
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${sc.dataURL}/airoute/demo`);
    await page.waitForSelector('#routes input');
    expect(scripts.sort()).toEqual(
      ['client/index', 'client/sse', 'client/state', 'client/stream', 'client/timeline', 'sidecar/server/demo/page/app', 'sidecar/server/demo/page/views'].map((m) => `/airoute/demo/src/${m}.ts`),
    );
    const routes = await page.$$eval('#routes label', (ls) => ls.map((l) => [l.querySelector('input')!.value, l.querySelector('small')?.textContent ?? '']));
    expect(routes).toEqual(DEMO_ROUTES.map((r) => [r.model, r.shows]));
    expect(await page.isChecked('#routes input[value=demo]')).toBe(true);
    // every control has an accessible name
    const unnamed = await page.$$eval('input, button', (els) => els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.textContent?.trim() && !e.getAttribute('aria-label')).map((e) => e.outerHTML));
    expect(unnamed).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  for (const { model } of DEMO_ROUTES)
    test(`${model}: the three patterns show the scripted failure and how it was handled`, async () => {
      const want = EXPECT[model]!;
      const { page, errors } = await openPage(`${sc.dataURL}/airoute/demo`);
      await page.check(`#routes input[value="${model}"]`);
      await page.click('#send');
      await waitDone(page);
      const panels = { sync: await readPanel(page, 'sync'), async: await readPanel(page, 'async'), events: await readPanel(page, 'events') };
      for (const [name, p] of Object.entries(panels)) {
        const where = `${model}, ${name}`;
        expect(p.badge, where).toBe(want.status);
        expect(p.counts, where).toMatchObject(want.counts);
        expect(p.lanes, where).toEqual(want.lanes);
        expect(p.waits, where).toEqual(want.waits);
        expect(p.hops, where).toEqual(want.hops);
        expect(p.terminal, where).toBe(want.status === 'completed' ? 'request.completed' : 'request.failed');
        if (want.status === 'completed') {
          // the whole answer exactly once: nothing repeated at the break, nothing lost
          expect(p.text, where).toBe(ANSWER);
          expect(p.stop, where).toBeUndefined();
          expect(p.recovered, where).toEqual(want.counts.resumes === '1' ? [ANSWER.slice(BEFORE_CUT.length)] : []);
        } else {
          expect(p.stop, where).toBe('stream_diverged');
          expect(p.recovered, where).toEqual([]);
          // a streamed client keeps what it had; nothing of the other generation is shown
          expect(p.text, where).toBe(name === 'async' ? '' : BEFORE_CUT);
        }
      }
      if (model !== 'demo-down') expect(panels.sync.counts.backend).toBe(model);
      else expect(panels.sync.counts.backend).toBe('demo');
      // sync: every frame of the stream is on the wire view, the last one [DONE] or, for a failed stream, its error
      expect(panels.sync.frames).toBeGreaterThan(want.status === 'completed' ? 48 : 10);
      const lastSync = await page.$$eval('#sync [data-role=wire] li.frame .raw-text', (ls) => ls.at(-1)?.textContent ?? '');
      if (want.status === 'completed') expect(lastSync).toBe('data: [DONE]');
      else expect(JSON.parse(lastSync.replace(/^data: /, ''))).toMatchObject({ error: { code: 'stream_diverged' } });
      // async: the webhook arrived at the page's receiver, its signature verified there
      const signature = page.locator('#async [data-role=signature]');
      expect(await signature.getAttribute('data-verified')).toBe('true');
      expect(await signature.textContent()).toContain('signature verified');
      expect(await page.textContent('#async [data-role=webhook]')).toContain(want.status === 'completed' ? 'request.completed' : 'request.failed');
      // events: dropped once mid-answer by the page, resumed with Last-Event-ID: every seq once
      expect(Number(panels.events.counts.reconnects)).toBe(1);
      const continuity = await page.textContent('#events [data-role=continuity]');
      expect(continuity).toMatch(/^Received seq 1–(\d+) over 2 connections \(resumed with Last-Event-ID: \d+\): no gap, no duplicate\.$/);
      const seqs = await page.$$eval('#events [data-role=wire] li.frame', (ls) => ls.map((l) => Number((l as HTMLElement).dataset.seq)));
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(await page.textContent('#events [data-role=wire]')).toMatch(/Last-Event-ID: \d+/);
      expect(await page.textContent('#same')).toMatch(want.status === 'completed' ? `same ${ANSWER.length} characters` : 'explicit error (stream_diverged)');
      expect(errors).toEqual([]);
      await page.close();
    }, 60_000);

  test('by keyboard only: choose a route, send, and drop the event connection mid-answer; the client resumes with Last-Event-ID, no gap, no duplicate', async () => {
    const { page, errors } = await openPage(`${sc.dataURL}/airoute/demo`);
    await page.uncheck('#autodrop');
    await page.focus('#routes input[value=demo]');
    await page.keyboard.press('ArrowRight'); // demo-flaky
    await page.keyboard.press('ArrowRight'); // demo-rate-limited: the longest answer, time to press the button
    expect(await page.isChecked('#routes input[value="demo-rate-limited"]')).toBe(true);
    await page.focus('#prompt');
    await page.keyboard.press('Enter');
    const deltas = () => page.$$eval('#events [data-role=wire] li.frame', (ls) => ls.filter((l) => l.textContent?.includes('content.delta')).length);
    while ((await deltas()) < 8) await sleep(20);
    await page.focus('#drop');
    await page.keyboard.press('Enter');
    await waitDone(page);
    const events = await readPanel(page, 'events');
    expect(events.counts.reconnects).toBe('1');
    expect(events.text).toBe(ANSWER);
    expect(await page.textContent('#events [data-role=wire]')).toContain('connection dropped (by you)');
    expect(await page.textContent('#events [data-role=continuity]')).toMatch(/over 2 connections \(resumed with Last-Event-ID: \d+\): no gap, no duplicate\.$/);
    // compact lines by default; the raw frames, exactly as they crossed, on request
    const first = page.locator('#events [data-role=wire] li.frame').first();
    expect(await first.locator('.short').textContent()).toMatch(/^\s*1 request\.accepted/);
    expect(await first.locator('.raw-text').isVisible()).toBe(false);
    await page.check('#events [data-role=raw]');
    expect(await first.locator('.raw-text').isVisible()).toBe(true);
    expect(await first.locator('.raw-text').textContent()).toMatch(/^id: 1\ndata: \{"requestId":"[0-9a-f-]{36}","seq":1,/);
    expect(await first.locator('.short').isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  test('the network cuts the event stream twice (a relay drops the TCP connections): the page reconnects each time and its text equals the server result exactly', async () => {
    const { page, errors } = await openPage(`http://127.0.0.1:${relay.port}/airoute/demo?model=demo-flaky`);
    await page.uncheck('#autodrop');
    await page.click('#send');
    const textLength = () => page.evaluate(() => (window as unknown as { __demo: { panels: { events: { text: string } } } }).__demo.panels.events.text.length);
    while ((await textLength()) < 40) await sleep(20);
    expect(relay.cutEventStreams()).toBeGreaterThan(0);
    const afterFirst = await textLength();
    while ((await textLength()) <= afterFirst + 40) await sleep(20);
    expect(relay.cutEventStreams()).toBeGreaterThan(0);
    await waitDone(page);
    const events = await readPanel(page, 'events');
    const id = await page.evaluate(() => (window as unknown as { __demo: { panels: { events: { state: { id: string } } } } }).__demo.panels.events.state.id);
    const server = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${id}`)).json()) as { status: string; result: { choices: { message: { content: string } }[] } };
    expect(server.status).toBe('completed');
    expect(server.result.choices[0]!.message.content).toBe(ANSWER);
    expect(events.text).toBe(ANSWER);
    expect(events.badge).toBe('completed');
    expect(events.counts.resumes).toBe('1'); // the upstream drop, recovered by the sidecar
    expect(Number(events.counts.reconnects)).toBeGreaterThanOrEqual(2);
    expect(await page.textContent('#events [data-role=continuity]')).toMatch(/no gap, no duplicate\.$/);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});

describe.skipIf(!available)('the demo page on a config of your own', () => {
  let own: TestSidecar;
  beforeAll(async () => {
    own = await testSidecar({ backends: [{ name: 'local', type: 'demo' }], routes: [{ model: 'chat', backends: [{ backend: 'local' }] }] }, { demoUi: true });
  });
  afterAll(async () => {
    await own?.close();
  });

  test('with no webhook receiver allow-listed, the async pattern polls the request instead, and shows its result', async () => {
    const { page, errors } = await openPage(`${own.dataURL}/airoute/demo?run=1`);
    await waitDone(page);
    expect(await page.$$eval('#routes input', (is) => is.map((i) => (i as HTMLInputElement).value))).toEqual(['chat']);
    expect(await page.textContent('#async [data-role=webhook]')).toContain('polling the request instead');
    const async = await readPanel(page, 'async');
    expect(async.badge).toBe('completed');
    expect(async.text).toBe(ANSWER);
    expect(await page.textContent('#async [data-role=wire]')).toMatch(/GET \/airoute\/v1\/requests\/\S+ {2}← 200 completed/);
    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);

  test('the receiver refuses what it does not serve, and a malformed request id is a 404, not an error', async () => {
    expect((await fetch(`${own.dataURL}/airoute/demo/webhooks/%E0%A4%A`)).status).toBe(404);
    expect((await fetch(`${own.dataURL}/airoute/demo/webhooks/x`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${own.dataURL}/airoute/demo/src/client/state.test.ts`)).status).toBe(404);
    expect((await fetch(`${own.dataURL}/airoute/demo/src/sidecar/config/demo.ts`)).status).toBe(404);
    const module = await fetch(`${own.dataURL}/airoute/demo/src/client/state.ts`);
    expect(module.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await module.text()).not.toMatch(/: RequestState\b/); // served with its types stripped
  });
});
