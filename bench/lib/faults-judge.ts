// The failure-conduct scorecard's rules: bench/faults.ts runs the scenarios of
// bench/lib/faults-scenarios.ts and judges each cell here. Pure: a verdict is derived only from
// what was observed, the client's transcript(s) and the requests each upstream logged (arrival
// times, what it answered), never from what a system says it does.
import type { Fault, RequestLog } from './fault-upstream.ts';
import type { Transcript } from './transcript.ts';

export const FAULT_SYSTEMS = ['direct', 'nginx', 'portkey', 'airoute'] as const;
export type FaultSystem = (typeof FAULT_SYSTEMS)[number];
export type Verdict = 'pass' | 'safe' | 'fail';

/** Content tokens per answer, milliseconds between them, where mid-stream faults strike. */
export const ANSWER = { chunks: 32, intervalMs: 10, cutAt: 16 };
/** Per backend and client request: 3 attempts (the configured retries) plus one continuation after a mid-stream failure. */
export const MAX_PER_BACKEND = 4;

export interface Scenario {
  id: string;
  title: string;
  /** What the upstreams do, in words. */
  setup: string;
  primary: { faults?: Fault[]; then?: Fault };
  fallback: { faults?: Fault[]; then?: Fault };
  /** The primary answers 503 to everything for this long from the start of the cell. */
  downForMs?: number;
  /** Client requests: one, or a paced series (open loop). */
  client?: { requests: number; everyMs: number };
  /** The provider's own error a client must still be able to see (regexp on the error text). */
  realError?: RegExp;
  /** An error text that must never reach the client in place of the real one. */
  neverShow?: { re: RegExp; why: string };
  /** The correct outcome is the provider's error itself (a refusal must reach the client unchanged). */
  errorIsTheAnswer?: boolean;
  /** Extra conduct a pass needs, beyond a complete answer; returns what is wrong, or undefined. */
  passNeeds?: (o: CellObservation) => string | undefined;
  /** What pass means here, in words (printed). */
  passMeans: string;
}

export interface CellObservation {
  scenario: Scenario;
  system: FaultSystem;
  /** Per client request, in order. */
  requests: { tr: Transcript; events?: string[] }[];
  primary: RequestLog[];
  fallback: RequestLog[];
  /** Epoch ms when the upstreams' scripts were set (the outage started then). */
  t0: number;
  limitMs: number;
  expected: string;
  /** Names/indices a system may report for the fallback (header checks). */
  fallbackNames: { airouteBackend: string; portkeyIndex: string };
}

export interface CellVerdict {
  verdict: Verdict;
  /** The rules that decided it, with the facts. */
  reasons: string[];
  /** One line: what the client saw and what the upstreams saw. */
  story: string;
}

// ------------------------------------------------------------------ the rules, as printed

export const RULES: { id: string; verdict: Verdict; text: string }[] = [
  { id: 'hang', verdict: 'fail', text: 'The client had no end of the response within the scenario limit and gave up.' },
  { id: 'silent-truncation', verdict: 'fail', text: 'HTTP 200 ending cleanly with no error signal (no error event, no unparsable data, no transport error), but the answer is incomplete or wrong (text not the complete canonical answer, or no finish reason): a truncated answer presented as success.' },
  { id: 'splice', verdict: 'fail', text: 'The delivered text is not a prefix of the canonical answer: a token was duplicated, lost in the middle, or two generations were spliced.' },
  { id: 'retried-400', verdict: 'fail', text: 'A backend that answered 400 received the same request again (same conversation, same prefill).' },
  { id: 'hid-error', verdict: 'fail', text: "The provider's own error did not reach the client: the client's error does not carry the provider's message or code, another backend's answer replaced a refusal, or a fallback's own 400 was shown instead of the original failure." },
  { id: 'hammering', verdict: 'fail', text: `A backend got more than ${MAX_PER_BACKEND} requests for one client request (3 attempts plus one continuation), or a request sooner than the Retry-After it had sent, or, during an outage, more requests than the client sent in that time (retries multiplying the outage).` },
  { id: 'misreported', verdict: 'fail', text: "After a fallback the answer must carry the model name the answering backend was asked for and that backend's usage; any attempt count or backend a system reports in its response headers must match what the upstreams saw." },
  { id: 'conduct', verdict: 'fail', text: 'The scenario\'s own conduct (its "pass means") was not met although the answer came back (e.g. a complete answer without [DONE] fetched again, a recovered primary never given traffic back).' },
  { id: 'complete', verdict: 'pass', text: 'Every client request got the complete canonical answer (exact text, finish reason, usage; [DONE] is not required: the SDKs do not need it) within the limit, no rule above fired, and the scenario\'s own conduct was met. For a refusal (content policy), the complete answer is the provider\'s error itself, unchanged, after exactly one upstream request.' },
  { id: 'clean-error', verdict: 'safe', text: 'Every client request that did not complete ended with an error the client can see (an HTTP error status, an in-stream error event, a transport error, or data an SDK refuses to parse) within the limit, whatever was delivered before it was a prefix of the canonical answer, and no fail rule fired.' },
];

// ------------------------------------------------------------------ judging

export function isComplete(tr: Transcript, expected: string): boolean {
  return tr.status === 200 && !tr.timedOut && !tr.transportError && !tr.errorEvent && tr.unparsable.length === 0 && tr.text === expected && tr.finishReason === 'stop' && !!tr.usage;
}

function errorSignal(tr: Transcript): string | undefined {
  if (tr.timedOut) return undefined;
  if (tr.status !== null && tr.status >= 400) return `HTTP ${tr.status}`;
  if (tr.errorEvent) return 'in-stream error event';
  if (tr.transportError) return `transport error (${tr.transportError})`;
  if (tr.unparsable.length) return 'unparsable data (an SDK raises a parse error)';
  if (tr.status === null) return 'no response';
  return undefined;
}

export function errorText(tr: Transcript): string {
  return [tr.errorBody ? JSON.stringify(tr.errorBody) : '', tr.errorEvent ? JSON.stringify(tr.errorEvent) : '', tr.status !== null && tr.status >= 400 ? (tr.body ?? '') : '', tr.transportError ?? ''].join(' ');
}

/** `A: 503 +0, 503 +112, 503 +298` style: what one upstream saw, times from the cell start. */
export function upstreamLine(name: string, logs: RequestLog[], t0: number): string {
  if (!logs.length) return `${name}: no request`;
  const items = logs.map((x) => {
    const what = x.fault === 'ok' || x.fault === 'rejectPrefill' ? (x.status === 200 ? (x.completed ? 'ok' : `200 cut by client after ${x.contentSent}`) : String(x.status)) : x.fault;
    return `${what}${x.prefillChars !== null ? ` (prefill ${x.prefillChars} chars${x.prefillOk === false ? ', NOT a prefix' : ''})` : ''} @${x.at - t0}ms`;
  });
  return `${name} ${logs.length}: ${items.length > 8 ? [...items.slice(0, 4), `… ${items.length - 7} more …`, ...items.slice(-3)].join(', ') : items.join(', ')}`;
}

export function clientLine(tr: Transcript, expected: string): string {
  const parts: string[] = [];
  parts.push(tr.status === null ? 'no status' : `HTTP ${tr.status}`);
  if (tr.contentEvents) parts.push(`${tr.text.length}/${expected.length} chars in ${tr.contentEvents} chunks${tr.text === expected ? ' (exact)' : ''}`);
  if (tr.finishReason) parts.push(`finish ${tr.finishReason}`);
  if (tr.usage) parts.push(`usage ${tr.usage.completion_tokens}+${tr.usage.prompt_tokens}`);
  if (tr.done) parts.push('[DONE]');
  if (tr.models.length) parts.push(`model ${tr.models.join('/')}`);
  if (tr.errorEvent) parts.push(`error event ${JSON.stringify(tr.errorEvent).slice(0, 160)}`);
  if (tr.errorBody) parts.push(`error ${JSON.stringify(tr.errorBody).slice(0, 160)}`);
  else if (tr.status !== null && tr.status >= 400 && tr.body) parts.push(`body ${tr.body.slice(0, 120)}`);
  if (tr.unparsable.length) parts.push(`unparsable ${JSON.stringify(tr.unparsable[0]).slice(0, 80)}`);
  if (tr.transportError) parts.push(`transport error: ${tr.transportError}`);
  if (tr.timedOut) parts.push('no end: the client gave up');
  parts.push(`${(tr.endMs / 1000).toFixed(2)} s`);
  return parts.join(', ');
}

export function judge(o: CellObservation): CellVerdict {
  const s = o.scenario;
  const reasons: string[] = [];
  const fail = (id: string, detail: string) => reasons.push(`${id}: ${detail}`);
  const n = o.requests.length;

  o.requests.forEach(({ tr }, i) => {
    const which = n > 1 ? `request ${i + 1}: ` : '';
    if (tr.timedOut) fail('hang', `${which}no end within ${o.limitMs / 1000} s (${tr.contentEvents} chunks received)`);
    if (tr.text && !o.expected.startsWith(tr.text)) fail('splice', `${which}${tr.text.length} chars delivered, not a prefix of the canonical answer: …${JSON.stringify(tr.text.slice(-60))}`);
    else if (!tr.timedOut && !errorSignal(tr) && !isComplete(tr, o.expected))
      fail('silent-truncation', `${which}HTTP ${tr.status}, clean end, ${tr.text.length}/${o.expected.length} chars, finish ${tr.finishReason ?? 'none'}, ${tr.done ? '[DONE]' : 'no [DONE]'}, no error signal`);
  });

  // Retrying a 400: the same request (same prefill) to the same backend after it answered 400.
  for (const [name, logs] of [
    ['primary', o.primary],
    ['fallback', o.fallback],
  ] as const)
    logs.forEach((x, i) => {
      if (x.status !== 400) return;
      const again = logs.slice(i + 1).find((y) => y.prefillChars === x.prefillChars);
      if (again) fail('retried-400', `the ${name} answered 400 at +${x.at - o.t0} ms and got the same request again at +${again.at - o.t0} ms`);
    });

  // Hiding the real error.
  const firstErr = o.requests.map((r) => r.tr).find((tr) => !isComplete(tr, o.expected) && !tr.timedOut);
  if (s.realError && firstErr && errorSignal(firstErr) && !s.realError.test(errorText(firstErr)))
    fail('hid-error', `the client's error does not carry the provider's (${s.realError.source}): ${errorText(firstErr).trim().slice(0, 200) || '(no text)'}`);
  if (s.neverShow)
    for (const { tr } of o.requests) if (s.neverShow.re.test(errorText(tr))) fail('hid-error', s.neverShow.why);
  if (s.errorIsTheAnswer && o.requests.some((r) => isComplete(r.tr, o.expected)))
    fail('hid-error', `the refusal was replaced by an answer (the fallback got ${o.fallback.length} request(s))`);

  // Hammering.
  for (const [name, logs] of [
    ['primary', o.primary],
    ['fallback', o.fallback],
  ] as const) {
    if (logs.length > MAX_PER_BACKEND * n) fail('hammering', `the ${name} got ${logs.length} requests for ${n} client request(s)`);
    logs.forEach((x, i) => {
      const ra = /retry-after (\S+)/.exec(x.fault)?.[1];
      if (!ra) return;
      const next = logs[i + 1];
      const wait = Number(ra) * 1000;
      if (next && next.at - x.at < wait - 50) fail('hammering', `the ${name} said retry-after ${ra} s at +${x.at - o.t0} ms and was asked again ${next.at - x.at} ms later`);
    });
  }
  if (s.downForMs) {
    const end = o.t0 + s.downForMs;
    const sent = o.requests.filter((r) => r.tr.startedAt < end).length;
    const got = o.primary.filter((x) => x.at < end).length;
    if (got > sent) fail('hammering', `during its ${s.downForMs / 1000} s outage the primary got ${got} requests for ${sent} client requests`);
  }

  const allComplete = o.requests.every((r) => isComplete(r.tr, o.expected));
  const failedAlready = reasons.length > 0;
  let verdict: Verdict;
  if (failedAlready) verdict = 'fail';
  else if (s.errorIsTheAnswer) {
    const tr = o.requests[0]!.tr;
    const ok = errorSignal(tr) && s.realError?.test(errorText(tr));
    const once = o.primary.length === 1 && o.fallback.length === 0;
    if (ok && once) {
      verdict = 'pass';
      reasons.push(`complete: the refusal reached the client unchanged (${errorSignal(tr)}), one request to the primary, none to the fallback`);
    } else {
      verdict = 'fail';
      fail('conduct', `${ok ? '' : "the refusal did not reach the client; "}${once ? '' : `primary ${o.primary.length}, fallback ${o.fallback.length} requests (want 1 and 0)`}`);
    }
  } else if (allComplete) {
    const need = s.passNeeds?.(o);
    if (need === undefined) {
      verdict = 'pass';
      reasons.push(`complete: ${n > 1 ? `all ${n} requests` : 'the answer'} complete and exact`);
    } else {
      verdict = 'fail';
      fail(s.id === 'fallback-accounting' ? 'misreported' : 'conduct', need);
    }
  } else {
    const errs = o.requests.map((r) => r.tr).filter((tr) => !isComplete(tr, o.expected));
    const signals = errs.map(errorSignal);
    if (signals.every((x) => x !== undefined)) {
      verdict = 'safe';
      const kinds = [...new Set(signals)];
      reasons.push(`clean-error: ${errs.length} of ${n} request(s) ended with ${kinds.join(' / ')}${n > 1 ? `, ${n - errs.length} complete` : ''}`);
      // Even a safe outcome owes the scenario's conduct where it can be judged (a recovered primary serving again).
      if (s.id === 'down-then-recovers') {
        const need = s.passNeeds?.(o);
        if (need) {
          verdict = 'fail';
          fail('conduct', need);
        }
      }
    } else {
      verdict = 'fail';
      fail('conduct', 'neither a complete answer nor a visible error');
    }
  }
  const tr = o.requests[0]!.tr;
  const client = n === 1 ? clientLine(tr, o.expected) : `${o.requests.filter((r) => isComplete(r.tr, o.expected)).length}/${n} complete; first: ${clientLine(tr, o.expected)}; last: ${clientLine(o.requests[n - 1]!.tr, o.expected)}`;
  const story = `client: ${client} · ${upstreamLine('primary', o.primary, o.t0)} · ${upstreamLine('fallback', o.fallback, o.t0)}`;
  return { verdict, reasons, story };
}
