// The load generator: a process of its own (forked by bench/run.ts, driven over IPC), so that
// the client's CPU is neither the sidecar's nor the mock's. undici keep-alive pools and the raw
// dispatch API (no stream objects between the socket and the clock), timestamps from
// performance.now() taken as each response chunk comes off the socket.
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { chatBody, type Target } from './lib/common.ts';

export type Outcome = 'ok' | 'wrong_text' | 'no_usage' | 'error_event' | 'truncated' | 'net_error' | 'timeout' | `http_${number}`;

export interface RequestsJob {
  kind: 'requests';
  target: Target;
  stream: boolean;
  /** Requests in total, shared by the workers. */
  n: number;
  concurrency: number;
  /** Worker w starts w * staggerMs after the first (spreads paced streams over the interval). */
  staggerMs?: number;
  expectText: string;
  /** Anything still running then is aborted and counted as `timeout`. */
  maxMs: number;
}

export interface RateJob {
  kind: 'rate';
  target: Target;
  stream: boolean;
  concurrency: number;
  /** Completions are counted in [warmMs, warmMs + durationMs] after the start. */
  warmMs: number;
  durationMs: number;
  expectText: string;
}

export interface HoldJob {
  kind: 'hold';
  target: Target;
  /** Streams to hold open at once. */
  n: number;
  /** At most this many streams waiting for their first chunk at a time (do not flood the accept queue). */
  openConcurrency: number;
  expectText: string;
  maxMs: number;
}

export type Job = RequestsJob | RateJob | HoldJob | { kind: 'reset' };

export interface JobResult {
  /** End-to-end milliseconds per completed request (successful or not). */
  latency: number[];
  /** Streams: milliseconds to the first content chunk. */
  ttft: number[];
  /** Streams: milliseconds to the last content chunk. */
  last: number[];
  /** Streams: milliseconds between consecutive content chunks as they came off the socket. */
  gaps: number[];
  /**
   * Streams: each gap minus the upstream's own gap between sending the two chunks (from the send
   * time the mock writes into each chunk): what the path added to the gap, without timer jitter.
   */
  gapDev: number[];
  /** Streams: milliseconds from the mock writing a content chunk to the client reading it (clock offset between processes included, constant). */
  transit: number[];
  outcomes: Partial<Record<Outcome, number>>;
  /** A few examples of what went wrong, for the report. */
  samples: string[];
  elapsedMs: number;
  /** Rate jobs: correct completions per second in the window. */
  rps?: number;
  /** Rate jobs: all completions, in the window or not (for CPU per request). */
  completed?: number;
  /** Hold jobs: streams open at once when the last one got its first chunk. */
  openAtReady?: number;
}

export type ToParent = { id: number; type: 'result'; result: JobResult } | { id: number; type: 'ready'; open: number } | { id: number; type: 'error'; message: string };

const pools = new Map<string, Pool>();
function pool(origin: string): Pool {
  let p = pools.get(origin);
  if (!p) {
    p = new Pool(origin, { connections: null, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 120_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
    pools.set(origin, p);
  }
  return p;
}

const HEADERS = { 'content-type': 'application/json', authorization: 'Bearer bench-client-key' };

interface Done {
  outcome: Outcome;
  t0: number;
  tEnd: number;
  tFirst: number;
  tLast: number;
  detail?: string;
}

/** One request; calls `done` exactly once. Gaps go straight into `gaps`. Returns an abort function. */
function send(
  target: Target,
  body: Buffer,
  stream: boolean,
  expectText: string,
  gaps: { gaps: number[]; gapDev: number[]; transit: number[] } | undefined,
  done: (d: Done) => void,
  onFirst?: () => void,
): (why: Error) => void {
  let controller: Dispatcher.DispatchController | undefined;
  let status = 0;
  let finished = false;
  const t0 = performance.now();
  let tFirst = -1;
  let tLast = -1;
  let sentLast = -1;
  let rest = '';
  let text = '';
  let sawDone = false;
  let sawUsage = false;
  let errorEvent: string | undefined;
  const parts: Buffer[] = [];
  const finish = (outcome: Outcome, detail?: string) => {
    if (finished) return;
    finished = true;
    done({ outcome, t0, tEnd: performance.now(), tFirst, tLast, ...(detail ? { detail } : {}) });
  };
  const onEvent = (data: string, t: number) => {
    if (data === '[DONE]') {
      sawDone = true;
      return;
    }
    let chunk: { error?: unknown; choices?: { delta?: { content?: unknown } }[]; usage?: unknown; obfuscation?: unknown };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      errorEvent ??= `unparsable event: ${data.slice(0, 120)}`;
      return;
    }
    if (chunk.error !== undefined) {
      errorEvent ??= JSON.stringify(chunk.error).slice(0, 300);
      return;
    }
    if (chunk.usage) sawUsage = true;
    const content = chunk.choices?.[0]?.delta?.content;
    if (typeof content === 'string' && content !== '') {
      const o = chunk.obfuscation;
      const sent = gaps && typeof o === 'string' && o.charCodeAt(0) === 116 /* t */ ? Number(o.slice(1)) : Number.NaN;
      if (tFirst < 0) {
        tFirst = t;
        onFirst?.();
      } else if (gaps) {
        gaps.gaps.push(t - tLast);
        if (sentLast >= 0 && Number.isFinite(sent)) gaps.gapDev.push(t - tLast - (sent - sentLast));
      }
      if (gaps && Number.isFinite(sent)) {
        gaps.transit.push(performance.timeOrigin + t - sent);
        sentLast = sent;
      }
      tLast = t;
      text += content;
    }
  };
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
    },
    onResponseStart(_c, statusCode) {
      status = statusCode;
    },
    onResponseData(_c, chunk) {
      const t = performance.now();
      if (!stream || status !== 200) {
        parts.push(chunk);
        return;
      }
      rest += chunk.toString('utf8');
      let i: number;
      while ((i = rest.indexOf('\n\n')) !== -1) {
        const ev = rest.slice(0, i);
        rest = rest.slice(i + 2);
        let data = '';
        for (const line of ev.split('\n')) if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
        if (data) onEvent(data, t);
      }
    },
    onResponseEnd() {
      if (status !== 200) {
        const b = Buffer.concat(parts).toString('utf8');
        return finish(`http_${status}`, `${status} ${b.slice(0, 300)}`);
      }
      if (!stream) {
        tFirst = performance.now();
        let content: unknown;
        try {
          const j = JSON.parse(Buffer.concat(parts).toString('utf8')) as { choices?: { message?: { content?: unknown } }[] };
          content = j.choices?.[0]?.message?.content;
        } catch {
          return finish('wrong_text', 'unparsable body');
        }
        return content === expectText ? finish('ok') : finish('wrong_text', `got ${String(content).slice(0, 80)}...`);
      }
      if (errorEvent) return finish('error_event', errorEvent);
      if (!sawDone) return finish('truncated', `ended without [DONE] after ${text.length} chars`);
      if (text !== expectText) return finish('wrong_text', `${text.length} chars, expected ${expectText.length}: ...${text.slice(Math.max(0, text.length - 60))}`);
      if (!sawUsage) return finish('no_usage');
      finish('ok');
    },
    onResponseError(_c, err) {
      if (errorEvent) return finish('error_event', errorEvent);
      if (status === 200 && stream) return finish('truncated', `${(err as Error).message} after ${text.length} chars`);
      finish('net_error', (err as Error).message);
    },
  };
  pool(target.origin).dispatch({ path: '/v1/chat/completions', method: 'POST', headers: HEADERS, body }, handler);
  return (why) => {
    if (finished) return;
    finish('timeout', why.message);
    controller?.abort(why);
  };
}

/** Counts the outcome; keeps one example of each kind of failure (up to 8 kinds). */
function tally(outcomes: Partial<Record<Outcome, number>>, samples: string[], d: Done): void {
  outcomes[d.outcome] = (outcomes[d.outcome] ?? 0) + 1;
  if (d.outcome === 'ok' || samples.length >= 8) return;
  const text = `${d.outcome}${d.detail ? `: ${d.detail}` : ''}`;
  const kind = text.replace(/[0-9]+/g, '#').slice(0, 90);
  if (!samples.some((x) => x.replace(/[0-9]+/g, '#').slice(0, 90) === kind)) samples.push(text);
}

function runRequests(job: RequestsJob): Promise<JobResult> {
  const body = chatBody(job.target.model, job.stream);
  const res: JobResult = { latency: [], ttft: [], last: [], gaps: [], gapDev: [], transit: [], outcomes: {}, samples: [], elapsedMs: 0 };
  const start = performance.now();
  const inflight = new Set<(why: Error) => void>();
  let issued = 0;
  let active = 0;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      for (const a of [...inflight]) a(new Error(`job time limit of ${job.maxMs} ms`));
      issued = job.n;
    }, job.maxMs);
    const next = () => {
      if (issued >= job.n) {
        if (active === 0) {
          clearTimeout(timer);
          res.elapsedMs = performance.now() - start;
          resolve(res);
        }
        return;
      }
      issued++;
      active++;
      const abort = send(job.target, body, job.stream, job.expectText, job.stream ? res : undefined, (d) => {
        inflight.delete(abort);
        active--;
        res.latency.push(d.tEnd - d.t0);
        if (job.stream && d.tFirst >= 0) {
          res.ttft.push(d.tFirst - d.t0);
          res.last.push(d.tLast - d.t0);
        }
        tally(res.outcomes, res.samples, d);
        // Start the next request from a fresh tick, never from inside the response's own callback.
        setImmediate(next);
      });
      inflight.add(abort);
    };
    const workers = Math.min(job.concurrency, job.n);
    for (let w = 0; w < workers; w++) {
      const delay = (job.staggerMs ?? 0) * w;
      if (delay > 0) setTimeout(next, delay);
      else next();
    }
  });
}

function runRate(job: RateJob): Promise<JobResult> {
  const body = chatBody(job.target.model, job.stream);
  const res: JobResult = { latency: [], ttft: [], last: [], gaps: [], gapDev: [], transit: [], outcomes: {}, samples: [], elapsedMs: 0 };
  const start = performance.now();
  const from = start + job.warmMs;
  const to = from + job.durationMs;
  const inflight = new Set<(why: Error) => void>();
  let counted = 0;
  let total = 0;
  let active = job.concurrency;
  return new Promise((resolve) => {
    // Requests still running 30 s after the window are abandoned (a hung system must not hang the run).
    const guard = setTimeout(() => {
      for (const a of [...inflight]) a(new Error('still running 30 s after the measuring window'));
    }, job.warmMs + job.durationMs + 30_000);
    const next = () => {
      if (performance.now() >= to) {
        if (--active === 0) {
          clearTimeout(guard);
          res.elapsedMs = performance.now() - start;
          res.rps = counted / (job.durationMs / 1000);
          res.completed = total;
          resolve(res);
        }
        return;
      }
      const abort = send(job.target, body, job.stream, job.expectText, undefined, (d) => {
        inflight.delete(abort);
        total++;
        if (d.tEnd >= from && d.tEnd < to) {
          // Throughput counts complete, correct answers only.
          if (d.outcome === 'ok') counted++;
          res.latency.push(d.tEnd - d.t0);
          if (job.stream && d.tFirst >= 0) res.ttft.push(d.tFirst - d.t0);
          tally(res.outcomes, res.samples, d);
        } else if (d.outcome !== 'ok') tally(res.outcomes, res.samples, d);
        // A failing system answers at once; do not spin on it.
        if (d.outcome === 'ok') next();
        else setTimeout(next, 1);
      });
      inflight.add(abort);
    };
    for (let w = 0; w < job.concurrency; w++) next();
  });
}

function runHold(job: HoldJob, id: number): Promise<JobResult> {
  const body = chatBody(job.target.model, true);
  const res: JobResult = { latency: [], ttft: [], last: [], gaps: [], gapDev: [], transit: [], outcomes: {}, samples: [], elapsedMs: 0 };
  const start = performance.now();
  const aborts = new Set<(why: Error) => void>();
  let issued = 0;
  /** Started, no content yet. */
  let opening = 0;
  /** Content flowing, not ended. */
  let open = 0;
  /** Got their first chunk, or ended without one: nothing left to wait for. */
  let settled = 0;
  let readySent = false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      for (const a of [...aborts]) a(new Error(`hold time limit of ${job.maxMs} ms`));
    }, job.maxMs);
    const ready = () => {
      if (readySent || settled < job.n) return;
      readySent = true;
      res.openAtReady = open;
      process.send!({ id, type: 'ready', open } satisfies ToParent);
    };
    const launch = () => {
      while (issued < job.n && opening < job.openConcurrency) {
        issued++;
        opening++;
        let flowing = false;
        const abort = send(
          job.target,
          body,
          true,
          job.expectText,
          undefined,
          (d) => {
            aborts.delete(abort);
            if (flowing) open--;
            else {
              opening--;
              settled++;
              setImmediate(launch);
            }
            res.latency.push(d.tEnd - d.t0);
            if (d.tFirst >= 0) res.ttft.push(d.tFirst - d.t0);
            tally(res.outcomes, res.samples, d);
            ready();
            if (aborts.size === 0 && issued >= job.n) {
              clearTimeout(timer);
              res.elapsedMs = performance.now() - start;
              res.openAtReady ??= 0;
              resolve(res);
            }
          },
          () => {
            flowing = true;
            opening--;
            open++;
            settled++;
            setImmediate(launch);
            ready();
          },
        );
        aborts.add(abort);
      }
    };
    launch();
  });
}

process.on('message', (msg: { id: number; job: Job }) => {
  const { id, job } = msg;
  const reply = (m: ToParent) => process.send!(m);
  let p: Promise<JobResult>;
  switch (job.kind) {
    case 'reset':
      p = Promise.all([...pools.values()].map((x) => x.destroy().catch(() => undefined))).then(() => {
        pools.clear();
        return { latency: [], ttft: [], last: [], gaps: [], gapDev: [], transit: [], outcomes: {}, samples: [], elapsedMs: 0 };
      });
      break;
    case 'requests':
      p = runRequests(job);
      break;
    case 'rate':
      p = runRate(job);
      break;
    case 'hold':
      p = runHold(job, id);
      break;
  }
  p.then(
    (result) => reply({ id, type: 'result', result }),
    (err: unknown) => reply({ id, type: 'error', message: (err as Error).stack ?? String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
