// The demo page's views, in the browser: a request's timeline, its text with the recovered part
// marked, and the frames that crossed the wire. Plain DOM, no framework; every mark on the
// timeline also has a sentence under it, so it reads without colour and with a screen reader.
import type { LifecycleEvent, Timeline } from '../../../../client/index.ts';

export const fmt = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** One timeline row: a label, a track spanning the request's duration, and a sentence. */
function row(kind: string, label: string, note: string, title = label): { li: HTMLLIElement; track: HTMLSpanElement } {
  const li = el('li', `tl-row ${kind}`);
  const l = el('span', 'tl-label', label);
  l.title = title;
  const track = el('span', 'tl-track');
  track.setAttribute('aria-hidden', 'true');
  li.append(l, track, el('span', 'tl-note', note));
  return { li, track };
}

export function renderTimeline(root: HTMLElement, t: Timeline): void {
  const span = Math.max(1, t.terminal?.at ?? t.now, ...t.waits.map((w) => w.end));
  const pos = (ms: number) => `${((Math.max(0, Math.min(ms, span)) / span) * 100).toFixed(2)}%`;
  const seg = (track: HTMLElement, cls: string, from: number, to: number) => {
    const s = el('span', `seg ${cls}`);
    s.style.left = pos(from);
    s.style.width = `calc(${pos(to)} - ${pos(from)})`;
    track.append(s);
  };
  const pin = (track: HTMLElement, cls: string, at: number, glyph: string) => {
    const p = el('span', `pin ${cls}`, glyph);
    p.style.left = pos(at);
    track.append(p);
  };
  const rows: HTMLLIElement[] = [];
  for (const lane of t.lanes) {
    const end = lane.end ?? t.now;
    const notes: string[] = [lane.model === lane.backend ? lane.backend : `${lane.backend} (model ${lane.model})`];
    if (lane.mode !== 'fresh') notes.push(`${lane.mode} continuation of the broken stream`);
    if (lane.resumed) notes.push(`resumed from character ${lane.resumed.fromChars}`);
    if (lane.chars) notes.push(`${lane.resumed ? 'recovered' : 'streamed'} ${lane.chars} characters`);
    else if (lane.mode === 'verify' && !lane.failure) notes.push('regenerating; nothing is shown until it reproduces what was delivered');
    if (lane.failure) notes.push(`✕ ${lane.failure.code}${lane.failure.status ? ` ${lane.failure.status}` : ''} (${lane.failure.phase}) at ${fmt(lane.failure.at)}`);
    if (lane.checkpoint) notes.push(`⚑ checkpoint: ${lane.checkpoint.deliveredChars} characters delivered`);
    const { li, track } = row(lane.failure ? 'lane failed' : 'lane', `attempt ${lane.attempt}`, notes.join(' · '), `attempt ${lane.attempt}: ${lane.backend}, model ${lane.model}`);
    li.dataset.attempt = String(lane.attempt);
    li.dataset.mode = lane.mode;
    if (lane.failure) li.dataset.failure = lane.failure.code;
    if (lane.resumed) li.dataset.resumed = String(lane.resumed.fromChars);
    const contentFrom = lane.resumed?.at ?? lane.firstContent;
    const waitingCls = lane.mode === 'verify' ? 'verifying' : 'pending';
    seg(track, waitingCls, lane.start, contentFrom ?? end);
    if (contentFrom !== undefined) seg(track, lane.resumed ? 'recovered' : 'content', contentFrom, end);
    if (lane.failure) pin(track, 'fail', lane.failure.at, '✕');
    if (lane.checkpoint) pin(track, 'checkpoint', lane.checkpoint.at, '⚑');
    rows.push(li);
    for (const w of t.waits.filter((w) => w.after === lane.attempt)) {
      const why = w.retryAfterMs !== undefined ? `the upstream's Retry-After: ${w.retryAfterMs / 1000} s` : 'backoff with jitter';
      const r = row('wait', 'wait', `waited ${fmt(w.end - w.start)} before retrying (${why})`);
      r.li.dataset.delay = String(w.delayMs);
      seg(r.track, 'wait', w.start, w.end);
      rows.push(r.li);
    }
    for (const h of t.hops.filter((h) => h.after === lane.attempt)) {
      const r = row('hop', 'fallback', `↳ ${h.from} → ${h.to} (${h.reason.replace(/_/g, ' ')})`);
      r.li.dataset.from = h.from;
      r.li.dataset.to = h.to;
      pin(r.track, 'hop', h.at, '↳');
      rows.push(r.li);
    }
  }
  const term = t.terminal;
  if (term) {
    const ok = term.type === 'request.completed';
    const what = term.type.replace('request.', '');
    const r = row(`end ${ok ? 'ok' : 'failed'}`, what, `${term.type} at ${fmt(term.at)}${term.code ? `: ${term.code}` : ''}${term.message ? `. ${term.message}` : ''}`);
    r.li.dataset.terminal = term.type;
    pin(r.track, ok ? 'ok' : 'fail', term.at, ok ? '✓' : '✕');
    rows.push(r.li);
  }
  const axis = el('div', 'tl-axis');
  axis.setAttribute('aria-hidden', 'true');
  axis.append(el('span', '', '0'), el('span', '', fmt(span / 2)), el('span', '', fmt(span)));
  const list = el('ol');
  list.append(...rows);
  root.replaceChildren(axis, list);
}

/** The text, with each part recovered after a break marked; `stop` says how a failed stream ended. */
export function renderText(root: HTMLElement, text: string, resumedAt: readonly number[], stop?: string): void {
  const parts: Node[] = [];
  const cuts = resumedAt.filter((n) => n <= text.length);
  parts.push(document.createTextNode(text.slice(0, cuts[0] ?? text.length)));
  cuts.forEach((from, i) => {
    const m = el('mark', 'recovered', text.slice(from, cuts[i + 1] ?? text.length));
    m.title = `recovered after the stream broke at character ${from}`;
    parts.push(m);
  });
  if (stop) parts.push(el('span', 'stop', `  ⟂ ${stop}`));
  root.replaceChildren(...parts);
}

type Part = string | [cls: string, text: string];

const quote = (s: string, max = 60) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

/** One line for an event frame: seq, type, and what it says. */
export function eventParts(ev: LifecycleEvent): Part[] {
  let what: Part = '';
  switch (ev.type) {
    case 'content.delta':
      what = ['txt', ev.data.text !== undefined ? quote(ev.data.text) : 'tool call'];
      break;
    case 'checkpoint':
      what = `${ev.data.deliveredChars} chars delivered by attempt ${ev.data.attempt}`;
      break;
    case 'attempt.started':
      what = `#${ev.attempt} ${ev.data.backend} ${ev.data.mode}`;
      break;
    case 'attempt.failed':
      what = ['bad', `${ev.data.code} ${ev.data.status} (${ev.data.phase ?? ''})`];
      break;
    case 'retry.scheduled':
      what = `in ${ev.data.delayMs} ms${ev.data.retryAfterMs !== undefined ? ' (Retry-After)' : ''}`;
      break;
    case 'fallback':
      what = `${ev.data.from} → ${ev.data.to}`;
      break;
    case 'stream.resumed':
      what = `${ev.data.mode} from char ${ev.data.fromChars}`;
      break;
    case 'request.failed':
      what = ['bad', ev.data.error.code];
      break;
    case 'request.completed':
      what = `${ev.data.backend ?? ''}, ${ev.data.attempts} attempts`;
      break;
  }
  return [['seq', String(ev.seq).padStart(3)], ' ', ['ty', ev.type], ' ', what];
}

/** One line for a Chat Completions stream frame. */
export function chunkParts(data: string): Part[] {
  if (data === '[DONE]') return [['ty', 'data: [DONE]']];
  try {
    const c = JSON.parse(data) as { choices?: { delta?: { content?: string; role?: string }; finish_reason?: string | null }[]; usage?: { completion_tokens?: number }; error?: { code?: string } };
    if (c.error) return [['ty', 'data: '], ['bad', `error ${c.error.code ?? ''}`]];
    const ch = c.choices?.[0];
    if (ch?.delta?.content) return [['ty', 'data: '], ['txt', quote(ch.delta.content)]];
    if (ch?.finish_reason) return [['ty', 'data: '], `finish_reason ${ch.finish_reason}`];
    if (ch?.delta?.role) return [['ty', 'data: '], `role ${ch.delta.role}`];
    if (c.usage) return [['ty', 'data: '], `usage: ${c.usage.completion_tokens ?? '?'} completion tokens`];
  } catch {
    // not JSON: shown raw
  }
  return [['ty', 'data: '], data.slice(0, 80)];
}

/** The frames of one pattern as they crossed, compact by default, raw on request. */
export class Wire {
  private readonly list: HTMLOListElement;
  private readonly count: HTMLElement;
  private frames = 0;

  constructor(section: HTMLElement) {
    this.list = section.querySelector('[data-role=wire]')!;
    this.count = section.querySelector('[data-role=frame-count]')!;
    const raw = section.querySelector<HTMLInputElement>('[data-role=raw]')!;
    const details = section.querySelector('details.wire')!;
    raw.addEventListener('change', () => details.classList.toggle('raw', raw.checked));
  }

  clear(): void {
    this.list.replaceChildren();
    this.frames = 0;
    this.count.textContent = '0 frames';
  }

  private add(cls: string, parts: Part[], raw: string): HTMLLIElement {
    const li = el('li', cls);
    const short = el('span', 'short');
    for (const p of parts) short.append(typeof p === 'string' ? document.createTextNode(p) : el('span', p[0], p[1]));
    li.append(short, el('span', 'raw-text', raw));
    li.title = raw;
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    this.list.append(li);
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
    return li;
  }

  /** A frame as it crossed (counted). */
  frame(parts: Part[], raw: string, seq?: number): void {
    const li = this.add('frame', parts, raw);
    if (seq !== undefined) li.dataset.seq = String(seq);
    this.frames++;
    this.count.textContent = `${this.frames} frame${this.frames === 1 ? '' : 's'}`;
  }

  /** An HTTP request or response line. */
  http(text: string, raw = text): void {
    this.add('http', [text], raw);
  }

  /** A connection opened, dropped or resumed. */
  conn(text: string): void {
    this.add('conn', [text], text);
  }
}
