// The demo page, in the browser: one prompt sent three ways (sync streamed, async with a signed
// webhook, event-driven with a droppable connection), each request drawn as a timeline from its
// own events. Built on the dependency-free client/ module; no framework.
import { follow, initialState, streamCompletion, submit, timeline, type Connection, type LifecycleEvent, type RequestState } from '../../../../client/index.ts';
import type { PageInfo } from '../page.ts';
import type { ReceivedWebhook } from '../receiver.ts';
import { chunkParts, eventParts, fmt, renderText, renderTimeline, Wire } from './views.ts';

const info = JSON.parse(document.getElementById('demo-info')!.textContent!) as PageInfo;
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
/** The event-driven pattern drops its connection after this many text deltas, when asked to. */
const AUTO_DROP_AFTER_DELTAS = 5;

type PatternName = 'sync' | 'async' | 'events';

/** One pattern's column: what it received, and its request's lifecycle drawn from the events. */
class Panel {
  readonly section: HTMLElement;
  readonly wire: Wire;
  events: LifecycleEvent[] = [];
  state: RequestState = initialState('');
  /** The text this pattern's client received (stream, webhook, or events). */
  text = '';
  /** How a failed request ended, as the client saw it. */
  stop: string | undefined;
  done = false;
  private queued = false;

  readonly name: PatternName;

  constructor(name: PatternName) {
    this.name = name;
    this.section = $(name);
    this.wire = new Wire(this.section);
  }

  part<T extends HTMLElement = HTMLElement>(role: string): T {
    return this.section.querySelector<T>(`[data-role=${role}]`)!;
  }

  reset(): void {
    this.events = [];
    this.state = initialState('');
    this.text = '';
    this.stop = undefined;
    this.done = false;
    this.wire.clear();
    this.part('timeline').replaceChildren();
    this.part('text').replaceChildren();
    this.part('text-note').textContent = '';
    this.section.dataset.status = 'running';
    delete this.section.dataset.done;
    this.render();
  }

  /** Follows the request's events for its timeline (the event-driven pattern follows its own). */
  async follow(id: string, signal: AbortSignal): Promise<void> {
    await follow(id, {
      baseURL: '',
      signal,
      retryDelayMs: 50,
      onEvent: (ev) => this.events.push(ev),
      onState: (s) => {
        this.state = s;
        this.schedule();
      },
    });
  }

  schedule(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.render();
    });
  }

  render(): void {
    const s = this.state;
    const status = this.done ? (this.stop ? 'failed' : 'completed') : this.section.dataset.status === 'idle' ? 'idle' : 'running';
    const badge = this.part('status');
    badge.textContent = status;
    badge.className = `badge ${status}`;
    this.section.dataset.status = status;
    for (const k of ['attempts', 'retries', 'fallbacks', 'resumes'] as const) {
      const dd = this.section.querySelector(`[data-count=${k}]`)!;
      dd.textContent = String(s[k]);
      dd.classList.toggle('hot', k !== 'attempts' && s[k] > 0);
    }
    const backend = this.section.querySelector('[data-count=backend]');
    if (backend) backend.textContent = s.backend ?? '-';
    if (this.events.length) renderTimeline(this.part('timeline'), timeline(this.events));
    renderText(this.part('text'), this.text, s.resumedAt, this.stop);
    const note = this.part('text-note');
    if (s.resumedAt.length && this.text.length >= (s.resumedAt[0] ?? 0)) {
      note.className = 'note';
      note.textContent = `Marked: the part recovered after the stream broke at character ${s.resumedAt.join(', ')}, continued without repeating a character.`;
    } else if (this.stop) {
      note.className = 'note bad';
      note.textContent = 'The request ended with an explicit error; nothing was spliced in.';
    } else note.textContent = '';
    if (this.done) this.section.dataset.done = 'true';
  }

  finish(): void {
    this.done = true;
    this.render();
    checkSame();
  }
}

const panels: Record<PatternName, Panel> = { sync: new Panel('sync'), async: new Panel('async'), events: new Panel('events') };
const exposed = { run: 0, done: false, panels };
(window as unknown as { __demo: typeof exposed }).__demo = exposed;

function checkSame(): void {
  const all = Object.values(panels);
  const same = $('same');
  if (!all.every((p) => p.done)) {
    same.textContent = '';
    return;
  }
  exposed.done = true;
  const texts = new Set(all.map((p) => p.text));
  const failed = all.filter((p) => p.stop);
  same.className = 'same note good';
  if (failed.length === all.length) same.textContent = `✓ All three patterns ended with an explicit error (${[...new Set(failed.map((p) => p.stop))].join(', ')}); no answer was spliced from two generations.`;
  else if (!failed.length && texts.size === 1) same.textContent = `✓ All three patterns received the same ${all[0]!.text.length} characters.`;
  else {
    same.className = 'same note bad';
    same.textContent = `The patterns ended differently: ${all.map((p) => `${p.name} ${p.stop ?? `${p.text.length} characters`}`).join('; ')}.`;
  }
}

async function runSync(p: Panel, body: Record<string, unknown>, signal: AbortSignal): Promise<void> {
  p.wire.http('→ POST /v1/chat/completions  {"stream": true}');
  let following: Promise<void> = Promise.resolve();
  const answer = await streamCompletion(body, {
    baseURL: '',
    signal,
    onResponse: (res) => {
      const h = (n: string) => res.headers.get(n) ?? '-';
      p.wire.http(`← HTTP ${res.status}  x-airoute-attempts: ${h('x-airoute-attempts')}  x-airoute-backend: ${h('x-airoute-backend')}`);
      const id = res.headers.get('x-airoute-request-id');
      if (id) following = p.follow(id, signal);
    },
    onFrame: (f) => p.wire.frame(chunkParts(f.data), f.raw),
    onDelta: (d) => {
      p.text += d;
      p.schedule();
    },
  });
  if (answer.error) p.stop = answer.error.code ?? answer.error.message;
  await following;
}

async function runAsync(p: Panel, body: Record<string, unknown>, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json', prefer: 'respond-async' };
  if (info.webhookUrl) headers['airoute-callback-url'] = info.webhookUrl;
  p.wire.http(`→ POST /v1/chat/completions  Prefer: respond-async${info.webhookUrl ? `  Airoute-Callback-Url: ${info.webhookUrl}` : ''}`);
  const t0 = performance.now();
  const res = await fetch('/v1/chat/completions', { method: 'POST', headers, body: JSON.stringify(body), signal });
  const accepted = (await res.json()) as { id?: string; status?: string; error?: { code?: string; message?: string } };
  p.wire.http(`← HTTP ${res.status}  Location: ${res.headers.get('location') ?? '-'}  ${JSON.stringify(accepted)}`);
  if (res.status !== 202 || !accepted.id) {
    p.stop = accepted.error?.code ?? `HTTP ${res.status}`;
    return;
  }
  const following = p.follow(accepted.id, signal);
  const box = p.part('webhook');
  let record: { status?: string; result?: { choices?: { message?: { content?: string } }[] }; error?: { error?: { code?: string } } } | undefined;
  if (info.webhookUrl) {
    box.replaceChildren(Object.assign(document.createElement('span'), { className: 'note', textContent: `202 after ${fmt(performance.now() - t0)}; waiting for the webhook…` }));
    let hook: ReceivedWebhook | undefined;
    while (!hook && !signal.aborted) {
      const r = await fetch(`/airoute/demo/webhooks/${encodeURIComponent(accepted.id)}?wait=25000`, { signal });
      if (r.status === 200) hook = (await r.json()) as ReceivedWebhook;
    }
    if (!hook) return;
    const h = hook.headers;
    p.wire.http(`→ POST ${new URL(info.webhookUrl).pathname}  webhook-id: ${h['webhook-id']}  webhook-timestamp: ${h['webhook-timestamp']}  webhook-signature: ${h['webhook-signature']}`);
    p.wire.frame([['ty', hook.type], ' ', hook.verified ? ['txt', 'signature verified'] : ['bad', `signature NOT verified: ${hook.reason ?? ''}`]], JSON.stringify(hook.payload));
    renderWebhook(box, hook, performance.now() - t0);
    record = (hook.payload as { data?: typeof record }).data;
  } else {
    box.replaceChildren(Object.assign(document.createElement('span'), { className: 'note', textContent: 'This config sends no webhooks to the page (webhooks.allow / webhooks.secret); polling the request instead.' }));
    while (!signal.aborted) {
      const r = await fetch(`/airoute/v1/requests/${encodeURIComponent(accepted.id)}`, { signal });
      record = (await r.json()) as typeof record;
      p.wire.http(`→ GET /airoute/v1/requests/${accepted.id}  ← ${r.status} ${record?.status ?? ''}`);
      if (record?.status && !['running', 'awaiting_callback'].includes(record.status)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  p.text = record?.result?.choices?.[0]?.message?.content ?? '';
  if (record?.status !== 'completed') p.stop = record?.error?.error?.code ?? record?.status ?? 'failed';
  await following;
}

function renderWebhook(box: HTMLElement, hook: ReceivedWebhook, afterMs: number): void {
  const line = (cls: string, text: string) => Object.assign(document.createElement('div'), { className: cls, textContent: text });
  const verdict = hook.verified
    ? line('verified', '✓ signature verified (Standard Webhooks: HMAC-SHA256 over id, timestamp and body, with this sidecar\'s webhook secret)')
    : line('unverified', `✕ signature NOT verified: ${hook.reason ?? ''}`);
  verdict.dataset.role = 'signature';
  verdict.dataset.verified = String(hook.verified);
  box.replaceChildren(
    line('', `${hook.type} arrived ${fmt(afterMs)} after the request was sent`),
    verdict,
    line('kv', `webhook-id: ${hook.headers['webhook-id']}`),
    line('kv', `webhook-timestamp: ${hook.headers['webhook-timestamp']}`),
    line('kv', `webhook-signature: ${hook.headers['webhook-signature']}`),
  );
}

async function runEvents(p: Panel, body: Record<string, unknown>, signal: AbortSignal): Promise<void> {
  const dropButton = $<HTMLButtonElement>('drop');
  const auto = $<HTMLInputElement>('autodrop').checked;
  const continuity = p.part('continuity');
  p.wire.http('→ POST /v1/chat/completions  Prefer: respond-async');
  const { id } = await submit(body, { baseURL: '', signal });
  p.wire.http(`← HTTP 202  {"id": "${id}"}`);
  let connection: Connection | undefined;
  let deltas = 0;
  let dropped = 0;
  const seen = new Set<number>();
  let duplicates = 0;
  let connections = 0;
  const resumedFrom: number[] = [];
  const drop = (why: string) => {
    if (!connection) return;
    p.wire.conn(`✂ connection dropped (${why}) after seq ${p.state.lastSeq}`);
    dropped++;
    connection.drop();
    connection = undefined;
  };
  dropButton.onclick = () => drop('by you');
  const showContinuity = () => {
    const max = Math.max(0, ...seen);
    const gaps = max - seen.size;
    continuity.className = `note ${gaps || duplicates ? 'bad' : 'good'}`;
    const resumed = resumedFrom.length ? ` (resumed with Last-Event-ID: ${resumedFrom.join(', ')})` : '';
    continuity.textContent = `Received seq 1–${max} over ${connections} connection${connections === 1 ? '' : 's'}${resumed}: ${gaps ? `${gaps} missing` : 'no gap'}, ${duplicates ? `${duplicates} duplicated` : 'no duplicate'}.`;
  };
  try {
    const final = await follow(id, {
      baseURL: '',
      signal,
      retryDelayMs: 50,
      onConnect: (c) => {
        connection = c;
        connections++;
        if (c.n > 1) resumedFrom.push(c.lastEventId);
        dropButton.disabled = false;
        p.wire.conn(c.n === 1 ? `→ GET /airoute/v1/requests/${id}/events` : `⟲ GET /airoute/v1/requests/${id}/events  Last-Event-ID: ${c.lastEventId}`);
      },
      onFrame: (f) => {
        const ev = JSON.parse(f.data) as LifecycleEvent;
        if (seen.has(ev.seq)) duplicates++;
        seen.add(ev.seq);
        p.wire.frame(eventParts(ev), f.raw, ev.seq);
        showContinuity();
      },
      onEvent: (ev) => {
        p.events.push(ev);
        if (ev.type === 'content.delta') deltas++;
        if (auto && !dropped && deltas === AUTO_DROP_AFTER_DELTAS) queueMicrotask(() => drop('automatically, mid-answer'));
      },
      onState: (s) => {
        p.state = s;
        p.text = s.text;
        p.schedule();
      },
      onReconnect: (n) => {
        p.section.querySelector('[data-count=reconnects]')!.textContent = String(n);
      },
    });
    if (final.status !== 'completed') p.stop = final.error?.code ?? final.status;
  } finally {
    dropButton.disabled = true;
    connection = undefined;
  }
}

async function run(model: string, prompt: string, signal: AbortSignal): Promise<void> {
  exposed.run++;
  exposed.done = false;
  $('same').textContent = '';
  const body = { model, stream: true, messages: [{ role: 'user', content: prompt }] };
  for (const p of Object.values(panels)) p.reset();
  $('events').querySelector('[data-count=reconnects]')!.textContent = '0';
  const runners: [Panel, typeof runSync][] = [
    [panels.sync, runSync],
    [panels.async, runAsync],
    [panels.events, runEvents],
  ];
  await Promise.all(
    runners.map(async ([p, runner]) => {
      try {
        await runner(p, body, signal);
      } catch (err) {
        if (signal.aborted) return;
        p.stop = (err as Error).message;
      }
      if (!signal.aborted) p.finish();
    }),
  );
}

async function start(): Promise<void> {
  const models = ((await (await fetch('/v1/models')).json()) as { data: { id: string }[] }).data.map((m) => m.id);
  const params = new URLSearchParams(location.search);
  const wanted = params.get('model');
  const routes = $('routes');
  for (const [i, id] of models.entries()) {
    const label = document.createElement('label');
    label.className = 'route';
    const input = Object.assign(document.createElement('input'), { type: 'radio', name: 'model', value: id, checked: wanted ? wanted === id : i === 0 });
    const text = document.createElement('span');
    text.append(Object.assign(document.createElement('b'), { textContent: id }));
    const story = info.routes[id];
    if (story) text.append(Object.assign(document.createElement('small'), { textContent: story }));
    label.append(input, text);
    routes.append(label);
  }
  const prompt = params.get('prompt');
  if (prompt) $<HTMLInputElement>('prompt').value = prompt;
  let current: AbortController | undefined;
  const form = $<HTMLFormElement>('run');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    current?.abort();
    const ac = (current = new AbortController());
    const model = (form.elements.namedItem('model') as RadioNodeList).value;
    void run(model, $<HTMLInputElement>('prompt').value, ac.signal);
  });
  if (params.get('run') === '1') form.requestSubmit();
}

void start();
