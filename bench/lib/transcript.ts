// One chat request as a client sees it, recorded for the failure-conduct scorecard
// (bench/faults.ts): status and headers, every SSE event with its arrival time, the text, the
// finish reason, usage, [DONE], in-stream errors, unparsable events, how the response ended
// (cleanly, with a transport error, or not at all within the limit). Nothing is judged here.
import { Client } from 'undici';

export interface TranscriptEvent {
  /** Milliseconds since the request was sent. */
  t: number;
  /** `content "..."`, `role`, `finish stop`, `usage`, `[DONE]`, `error {...}`, `unparsable ...`. */
  what: string;
}

export interface Transcript {
  startedAt: number;
  status: number | null;
  /** Response headers worth keeping (content-type, x-airoute-*, x-portkey-*, retry-after). */
  headers: Record<string, string>;
  ttfbMs: number | null;
  firstContentMs: number | null;
  endMs: number;
  /** Content as assembled from the deltas. */
  text: string;
  contentEvents: number;
  /** Distinct `model` values in the chunks (or the JSON body). */
  models: string[];
  finishReason: string | null;
  usage: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null;
  done: boolean;
  /** The first in-stream `{"error": ...}` object. */
  errorEvent: Record<string, unknown> | null;
  /** Data lines that were not JSON (the first few). */
  unparsable: string[];
  /** The body ended with a transport error (reset, incomplete chunked encoding, ...). */
  transportError: string | null;
  /** Still running at the limit: aborted by the client. */
  timedOut: boolean;
  /** Non-SSE bodies (errors, JSON answers), the first 2,000 characters. */
  body: string | null;
  /** `error` of a JSON error body, when there is one. */
  errorBody: Record<string, unknown> | null;
  /** The first and last events, with times (compact). */
  events: TranscriptEvent[];
}

const KEEP = /^(content-type|retry-after|x-airoute-|x-portkey-(?!trace))/;

/**
 * POSTs `body` to `origin + path` and records everything the client sees, for at most `limitMs`.
 * A fresh connection per request (no state carried between scenario cells).
 */
export async function transcript(origin: string, path: string, headers: Record<string, string>, body: unknown, limitMs: number): Promise<Transcript> {
  const client = new Client(origin, { headersTimeout: limitMs + 1000, bodyTimeout: limitMs + 1000, keepAliveTimeout: 1000 });
  const t0 = performance.now();
  const ms = () => Math.round((performance.now() - t0) * 10) / 10;
  const tr: Transcript = {
    startedAt: Date.now(),
    status: null,
    headers: {},
    ttfbMs: null,
    firstContentMs: null,
    endMs: 0,
    text: '',
    contentEvents: 0,
    models: [],
    finishReason: null,
    usage: null,
    done: false,
    errorEvent: null,
    unparsable: [],
    transportError: null,
    timedOut: false,
    body: null,
    errorBody: null,
    events: [],
  };
  const all: TranscriptEvent[] = [];
  const note = (what: string) => all.push({ t: ms(), what });
  const model = (m: unknown) => {
    if (typeof m === 'string' && !tr.models.includes(m)) tr.models.push(m);
  };
  const onData = (data: string) => {
    if (data === '[DONE]') {
      tr.done = true;
      return note('[DONE]');
    }
    let chunk: { error?: unknown; model?: unknown; choices?: { delta?: { content?: unknown; role?: unknown }; finish_reason?: unknown }[]; usage?: unknown };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      if (tr.unparsable.length < 3) tr.unparsable.push(data.slice(0, 160));
      return note(`unparsable ${data.slice(0, 60)}`);
    }
    if (chunk.error !== undefined) {
      tr.errorEvent ??= (typeof chunk.error === 'object' && chunk.error ? chunk.error : { message: String(chunk.error) }) as Record<string, unknown>;
      return note(`error ${JSON.stringify(chunk.error).slice(0, 200)}`);
    }
    model(chunk.model);
    const c = chunk.choices?.[0];
    if (c?.delta?.role !== undefined && (c.delta.content === '' || c.delta.content === undefined)) note('role');
    const content = c?.delta?.content;
    if (typeof content === 'string' && content !== '') {
      tr.firstContentMs ??= ms();
      tr.contentEvents++;
      tr.text += content;
      note(`content ${JSON.stringify(content)}`);
    }
    if (typeof c?.finish_reason === 'string') {
      tr.finishReason = c.finish_reason;
      note(`finish ${c.finish_reason}`);
    }
    if (chunk.usage && typeof chunk.usage === 'object') {
      tr.usage = chunk.usage as Transcript['usage'];
      note(`usage ${JSON.stringify(chunk.usage).slice(0, 80)}`);
    }
  };
  const ac = new AbortController();
  const timer = setTimeout(() => {
    tr.timedOut = true;
    ac.abort(new Error(`no end within ${limitMs} ms`));
  }, limitMs);
  try {
    const res = await client.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: ac.signal,
    });
    tr.status = res.statusCode;
    tr.ttfbMs = ms();
    for (const [k, v] of Object.entries(res.headers)) if (KEEP.test(k) && v !== undefined) tr.headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const sse = String(res.headers['content-type'] ?? '').includes('text/event-stream');
    let raw = '';
    let rest = '';
    try {
      for await (const chunk of res.body) {
        const s = (chunk as Buffer).toString('utf8');
        if (!sse) {
          if (raw.length < 64 * 1024) raw += s;
          continue;
        }
        rest += s.replace(/\r\n?/g, '\n');
        let i: number;
        while ((i = rest.indexOf('\n\n')) !== -1) {
          const ev = rest.slice(0, i);
          rest = rest.slice(i + 2);
          let data = '';
          for (const line of ev.split('\n')) if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
          if (data) onData(data);
        }
      }
      if (sse && rest.trim()) {
        // An event without its closing blank line: the stream was cut inside it.
        const data = rest
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(l[5] === ' ' ? 6 : 5))
          .join('\n');
        if (data) {
          if (tr.unparsable.length < 3) tr.unparsable.push(`(unterminated) ${data.slice(0, 140)}`);
          note(`unterminated event ${data.slice(0, 60)}`);
        }
      }
    } catch (err) {
      if (!tr.timedOut) {
        tr.transportError = (err as Error).message || String(err);
        note(`transport error: ${tr.transportError}`);
      }
    }
    if (!sse) {
      tr.body = raw.slice(0, 2000);
      try {
        const j = JSON.parse(raw) as { error?: unknown; model?: unknown; choices?: { message?: { content?: unknown }; finish_reason?: unknown }[]; usage?: unknown };
        if (j.error && typeof j.error === 'object') tr.errorBody = j.error as Record<string, unknown>;
        else if (j.error !== undefined) tr.errorBody = { message: String(j.error) };
        model(j.model);
        const content = j.choices?.[0]?.message?.content;
        if (typeof content === 'string') tr.text = content;
        if (typeof j.choices?.[0]?.finish_reason === 'string') tr.finishReason = j.choices[0].finish_reason as string;
        if (j.usage && typeof j.usage === 'object') tr.usage = j.usage as Transcript['usage'];
      } catch {
        // not JSON: the body says what it says
      }
      note(`body ${raw.slice(0, 120)}`);
    }
  } catch (err) {
    if (!tr.timedOut) {
      tr.transportError = (err as Error).message || String(err);
      note(`transport error: ${tr.transportError}`);
    } else note('client gave up (limit)');
  } finally {
    clearTimeout(timer);
    tr.endMs = ms();
    if (tr.timedOut) note(`aborted by the client at ${limitMs} ms`);
    await client.destroy().catch(() => undefined);
  }
  // Keep the story short: the first 6 and the last 6 events, with a count of what is between.
  tr.events = all.length <= 14 ? all : [...all.slice(0, 6), { t: all[6]!.t, what: `... ${all.length - 12} more events ...` }, ...all.slice(-6)];
  return tr;
}
