import type { Frame, StreamEvent } from '../chat/types.ts';
import { AirouteError, asAirouteError } from '../errors.ts';
import { Checkpoint } from './checkpoint.ts';
import type { Handler, Stage } from '../pipeline/chain.ts';
import type { AttemptMode, RouteExchange, StreamAnswer } from '../pipeline/exchange.ts';

/**
 * Filters a continuation so the client gets only what it does not have yet.
 * - prefill: the backend continues the delivered text sent as an assistant prefix. The prefix went
 *   without its trailing whitespace, which the model regenerates; that part is dropped.
 * - verify: the backend answers from scratch; nothing passes until its text has reproduced the
 *   delivered text exactly, and any difference ends the stream as `stream_diverged`.
 * Both drop the continuation's own start/structural frames: the client's message is already open.
 */
export class ContinuationGate {
  private expected: string;
  private pos = 0;
  private readonly strict: boolean;

  constructor(mode: Exclude<AttemptMode, 'fresh'>, delivered: string, sentPrefill = '') {
    this.strict = mode === 'verify';
    this.expected = this.strict ? delivered : delivered.slice(sentPrefill.length);
  }

  get passed(): boolean {
    return this.pos >= this.expected.length;
  }

  private diverged(why: string): AirouteError {
    return new AirouteError('stream_diverged', 502, `the regenerated answer diverged from what was already delivered (${why})`, { phase: 'stream' });
  }

  pass(frame: Frame): Frame | null {
    const out: StreamEvent[] = [];
    for (const ev of frame.events) {
      if (this.passed || ev.type === 'start' || ev.type === 'usage') {
        out.push(ev);
        continue;
      }
      // The continuation thinks again before it answers; the client has its reasoning already.
      if (ev.type === 'reasoning' || ev.type === 'reasoning_end') continue;
      if (ev.type !== 'text' || ev.choice !== 0) {
        if (!this.strict) {
          this.pos = this.expected.length; // prefill: anything but text ends the overlap window
          out.push(ev);
          continue;
        }
        throw this.diverged(`${ev.type} before the delivered ${this.expected.length} characters were reproduced`);
      }
      const want = this.expected.slice(this.pos, this.pos + ev.text.length);
      // The common part of both; charCodeAt past either end is NaN, equal to nothing, so it stops there.
      let same = 0;
      while (want.charCodeAt(same) === ev.text.charCodeAt(same)) same++;
      if (this.strict && same < want.length) throw this.diverged(`at character ${this.pos + same}`);
      if (!this.strict && same < want.length) {
        // prefill: the model chose different whitespace; what it wrote after is new content.
        this.pos = this.expected.length;
        out.push({ ...ev, text: ev.text.slice(same) });
        continue;
      }
      this.pos += same;
      if (same < ev.text.length) out.push({ ...ev, text: ev.text.slice(same) });
    }
    return out.length ? { events: out } : null;
  }

  /** The continuation ended: in verify mode it must have reproduced everything delivered. */
  end(): void {
    if (this.strict && !this.passed) throw this.diverged(`ended after ${this.pos} of ${this.expected.length} delivered characters`);
  }
}

function interrupted(cause: AirouteError, cp: Checkpoint, attempts: number, why: string): AirouteError {
  const s = cp.summary();
  const code = cause.code === 'stream_diverged' ? 'stream_diverged' : 'stream_interrupted';
  return new AirouteError(code, cause.status, `stream ${code === 'stream_diverged' ? 'diverged' : 'interrupted'} after ${s.deliveredChars} delivered characters: ${cause.message}${why ? ` (${why})` : ''}`, {
    phase: 'stream',
    cause,
    extra: { ...s, attempts, cause: cause.code },
  });
}

/**
 * Mid-stream recovery, the one stage that acts after the first byte. It records a checkpoint of
 * every frame it hands on; when the stream fails it runs `continueWith` (the part of the chain
 * that picks a target and tries it: fallback, retry, circuit, attempt) again as a continuation in
 * the route's resume strategy, and passes on only what the client does not have. It never joins
 * two different generations silently: verify checks the prefix, prefill continues the same text,
 * anything else ends with an explicit error.
 */
export const resume =
  (continueWith: Handler<RouteExchange>): Stage<RouteExchange> =>
  (next) =>
  async (x) => {
    const first = await next(x);
    if (first.kind !== 'stream') return first;
    const answer: StreamAnswer = { ...first };
    answer.frames = stitch(first, continueWith, x, answer);
    return answer;
  };

/** `answer` is the caller's view: after a resume its target and attempt name the backend that continued. */
async function* stitch(first: StreamAnswer, continueWith: Handler<RouteExchange>, x: RouteExchange, answer: StreamAnswer): AsyncGenerator<Frame> {
  // `resume: none` keeps no text at all; the others keep it up to the request's bound.
  const cp = new Checkpoint(x.route.resume === 'none' ? 0 : x.limits.maxCheckpointChars);
  const maxResumes = x.route.retry.attempts;
  let current = first;
  let resumes = 0;
  const lc = x.lifecycle;
  /** Backends that refused an assistant prefix: shared by every continuation of this request. */
  const prefillRefused = new Set<string>();
  /** Set when a continuation started; announced as stream.resumed once it delivers new content (for verify: once the prefix checked out). */
  let announce: { fromChars: number } | undefined;
  for (;;) {
    const gate = current.mode === 'fresh' ? undefined : new ContinuationGate(current.mode, cp.delivered(), current.sentPrefill);
    try {
      for await (const frame of current.frames) {
        const out = gate ? gate.pass(frame) : frame;
        if (!out) continue;
        if (announce && out.events.some((e) => e.type !== 'start' && e.type !== 'usage')) {
          lc.emit('stream.resumed', { backend: current.target.backend.name, model: current.target.model, mode: current.mode, fromChars: announce.fromChars });
          announce = undefined;
        }
        const wasKept = !cp.overflowed;
        for (const ev of out.events) cp.record(ev);
        if (wasKept && cp.overflowed) {
          const why = cp.resumability();
          lc.emit('checkpoint', {
            ...cp.summary(),
            attempt: current.attempt,
            backend: current.target.backend.name,
            strategy: 'none',
            // Stryker disable next-line StringLiteral: an overflowed checkpoint is never resumable (resumability() says so first), so this '' is never sent
            resumeDisabled: why.ok ? '' : why.reason,
          });
        }
        yield out;
      }
      gate?.end();
      if (announce) lc.emit('stream.resumed', { backend: current.target.backend.name, model: current.target.model, mode: current.mode, fromChars: announce.fromChars });
      return;
    } catch (e) {
      const err = asAirouteError(e);
      if (x.scope.aborted) throw asAirouteError(x.scope.reason);
      if (err.code === 'stream_diverged')
        lc.emit('attempt.failed', { backend: current.target.backend.name, phase: 'stream', code: err.code, status: err.status, retriable: false, message: err.message });
      const summary = cp.summary();
      lc.emit('checkpoint', { ...summary, attempt: current.attempt, backend: current.target.backend.name, strategy: cp.overflowed ? 'none' : x.route.resume });
      const can = cp.resumability();
      const why =
        x.route.resume === 'none'
          ? 'the route resumes nothing (resume: none)'
          : err.code === 'stream_diverged'
            ? ''
            : !can.ok
              ? can.reason
              : !err.retriable
                ? 'the failure is not retriable'
                : resumes >= maxResumes
                  ? `${resumes} resumes already tried`
                  : undefined;
      if (why !== undefined) throw interrupted(err, cp, lc.attempt, why);
      resumes++;
      try {
        const r = await continueWith({ ...x, resume: { delivered: cp.delivered(), prefillRefused } });
        if (r.kind !== 'stream')
          throw new AirouteError(
            // Stryker disable next-line StringLiteral: only this error's message is seen (it goes into the interruption below), never its code
            'upstream_error',
            502,
            'a continuation came back without a stream',
          );
        current = r;
        answer.target = r.target;
        answer.attempt = r.attempt;
      } catch (e2) {
        const again = asAirouteError(e2);
        if (x.scope.aborted) throw asAirouteError(x.scope.reason);
        throw interrupted(err, cp, lc.attempt, `no backend could continue it: ${again.message}`);
      }
      announce = { fromChars: summary.deliveredChars };
    }
  }
}
