// The failure-conduct scorecard's scenarios and its rules (bench/faults.ts runs them). Pure: a
// verdict is derived only from what was observed, the client's transcript(s) and the requests
// each upstream logged (arrival times, what it answered), never from what a system says it does.
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

// ------------------------------------------------------------------ scenarios

const CONTEXT_MSG = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9214 tokens. Please reduce the length of the messages.";
const POLICY_MSG = 'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.';

export function scenarios(quick: boolean): Scenario[] {
  const cut = ANSWER.cutAt;
  const down = quick ? 1500 : 2500;
  const series = quick ? { requests: 12, everyMs: 250 } : { requests: 20, everyMs: 250 };
  return [
    {
      id: '429-retry-after',
      title: '429 with Retry-After',
      setup: 'primary: 429 with `retry-after: 1` once, then answers',
      primary: { faults: [{ kind: 'status', status: 429, retryAfter: '1', message: 'Rate limit reached for requests. Please try again in 1s.', type: 'requests', code: 'rate_limit_exceeded' }] },
      fallback: {},
      passMeans: 'the complete answer, and the primary is not asked again before its Retry-After (1 s) has passed (moving to the fallback at once is fine)',
    },
    {
      id: '429-no-retry-after',
      title: '429 without Retry-After',
      setup: 'primary: 429 without retry headers once, then answers',
      primary: { faults: [{ kind: 'status', status: 429, message: 'Rate limit reached for requests.', type: 'requests', code: 'rate_limit_exceeded' }] },
      fallback: {},
      passMeans: 'the complete answer, with a bounded number of attempts',
    },
    {
      id: '500-once',
      title: '500 once',
      setup: 'primary: 500 once, then answers',
      primary: { faults: [{ kind: 'status', status: 500, message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' }] },
      fallback: {},
      passMeans: 'the complete answer, with a bounded number of attempts',
    },
    {
      id: '503-persistent',
      title: '503 persistent',
      setup: 'primary: 503 to every request; fallback answers',
      primary: { then: { kind: 'status', status: 503, message: 'The server is overloaded or not ready yet.', type: 'server_error' } },
      fallback: {},
      passMeans: `the complete answer from the fallback, at most ${MAX_PER_BACKEND} requests to the primary`,
    },
    {
      id: 'reset-before-headers',
      title: 'reset before headers',
      setup: 'primary: connection destroyed after reading the request, once; then answers',
      primary: { faults: [{ kind: 'reset' }] },
      fallback: {},
      passMeans: 'the complete answer',
    },
    {
      id: 'no-response',
      title: 'no response',
      setup: 'primary: reads the request and never answers (socket open); fallback answers',
      primary: { then: { kind: 'hang' } },
      fallback: {},
      passMeans: 'the complete answer from the fallback, the silent primary abandoned at the configured timeout (1 s)',
    },
    {
      id: 'slow-first-token',
      title: 'slow first token',
      setup: 'primary: headers and the role chunk at once, then silence for 30 s before the first token; fallback answers',
      primary: { then: { kind: 'slowFirstToken', ms: 30_000 } },
      fallback: {},
      passMeans: 'the complete answer from the fallback, the primary abandoned at the first-token timeout (1 s; headers arriving do not count as a token)',
    },
    {
      id: 'stream-cut',
      title: 'stream cut mid-answer',
      setup: `primary: connection destroyed after ${cut} of ${ANSWER.chunks} content chunks, once; then answers (and continues a prefill)`,
      primary: { faults: [{ kind: 'drop', after: cut }] },
      fallback: {},
      passMeans: 'the complete answer, every token exactly once',
    },
    {
      id: 'stream-stall',
      title: 'stream stall',
      setup: `primary: silent after ${cut} content chunks (connection open), once; then answers`,
      primary: { faults: [{ kind: 'stall', after: cut }] },
      fallback: {},
      passMeans: 'the complete answer, every token exactly once, the stall abandoned at the idle timeout (1 s)',
    },
    {
      id: 'malformed-chunk',
      title: 'malformed chunk',
      setup: `primary: after ${cut} content chunks an event whose JSON is cut off, then the response ends, once; then answers`,
      primary: { faults: [{ kind: 'malformed', after: cut }] },
      fallback: {},
      passMeans: 'the complete answer, no half-parsed output, every token exactly once',
    },
    {
      id: 'no-done',
      title: 'stream without [DONE]',
      setup: 'primary: the complete answer (finish reason, usage) but no `data: [DONE]`, then the response ends',
      primary: { then: { kind: 'noDone' } },
      fallback: {},
      passMeans: 'the complete answer with usage, finalised at once: exactly one upstream request',
      passNeeds: (o) => {
        const n = o.primary.length + o.fallback.length;
        return n === 1 ? undefined : `the answer was complete after the first upstream request, yet the upstreams got ${n}`;
      },
    },
    {
      id: 'context-length',
      title: 'context length exceeded',
      setup: 'primary: 400 `context_length_exceeded` (its model is too small for the prompt); fallback (a larger model) answers',
      primary: { then: { kind: 'status', status: 400, message: CONTEXT_MSG, type: 'invalid_request_error', code: 'context_length_exceeded' } },
      fallback: {},
      realError: /maximum context length|context_length_exceeded/,
      passMeans: 'the complete answer from the larger fallback, the primary asked once (never retried); with no fallback, the provider\'s error unchanged is "safe"',
    },
    {
      id: 'content-policy',
      title: 'content-policy rejection',
      setup: 'primary: 400 `content_policy_violation`; fallback would answer anything',
      primary: { then: { kind: 'status', status: 400, message: POLICY_MSG, type: 'invalid_request_error', code: 'content_policy_violation' } },
      fallback: {},
      realError: /safety system|content_policy_violation/,
      errorIsTheAnswer: true,
      passMeans: "the provider's refusal reaches the client unchanged (its message or code), after exactly one request to the primary and none to the fallback",
    },
    {
      id: 'fallback-rejects-prefill',
      title: 'fallback that rejects prefill',
      setup: `primary: cut after ${cut} content chunks, then 503 to everything; fallback: 400 to any request ending with an assistant message (a prefill), answers fresh requests`,
      primary: { faults: [{ kind: 'drop', after: cut }], then: { kind: 'status', status: 503, message: 'The server is overloaded or not ready yet.', type: 'server_error' } },
      fallback: { then: { kind: 'rejectPrefill' } },
      neverShow: { re: /does not support assistant message prefill/, why: "the fallback's prefill refusal was shown instead of the original failure (the cut stream)" },
      passMeans: 'the complete answer, every token exactly once (e.g. the fallback restarted cleanly and the delivered prefix verified), the prefill request not repeated',
    },
    {
      id: 'down-then-recovers',
      title: 'primary down for a while, then recovers',
      setup: `primary: 503 to everything for ${down / 1000} s, then answers; fallback answers; the client sends ${series.requests} requests, one every ${series.everyMs} ms`,
      primary: {},
      fallback: {},
      downForMs: down,
      client: series,
      passMeans: 'every request complete; the dead primary not hammered (no more requests to it during the outage than the client sent); after it recovers (plus a 1 s cool-down and 0.5 s slack), it serves again',
      passNeeds: (o) => {
        const back = o.t0 + down + 1500;
        const after = o.requests.filter((r) => r.tr.startedAt >= back).length;
        const servedByPrimary = o.primary.filter((x) => x.at >= back && x.status === 200 && x.completed).length;
        if (after === 0) return undefined;
        return servedByPrimary > 0 ? undefined : `the primary recovered at +${down} ms, yet none of the ${after} requests sent from +${down + 1500} ms on reached it`;
      },
    },
    {
      id: 'fallback-accounting',
      title: 'fallback accounting',
      setup: 'primary: 503 to everything; fallback answers (model name and usage of its own)',
      primary: { then: { kind: 'status', status: 503, message: 'The server is overloaded or not ready yet.', type: 'server_error' } },
      fallback: {},
      passMeans: "the complete answer carrying the fallback's model name (as the fallback was asked) and the fallback's usage; attempt counts or backends reported in headers match the upstream logs",
      passNeeds: accounting,
    },
  ];
}

function accounting(o: CellObservation): string | undefined {
  const tr = o.requests[0]!.tr;
  const answered = [...o.fallback, ...o.primary].filter((x) => x.status === 200 && x.completed).sort((a, b) => b.at - a.at)[0];
  if (!answered) return 'no upstream answered with a complete response';
  const wrong: string[] = [];
  if (tr.models.length !== 1 || tr.models[0] !== answered.model) wrong.push(`the answer says model ${JSON.stringify(tr.models)}, the backend that answered was asked for "${answered.model}"`);
  const u = tr.usage;
  if (!u || u.completion_tokens !== answered.contentSent || u.prompt_tokens === undefined) wrong.push(`usage ${JSON.stringify(u)} is not the answering backend's (completion_tokens ${answered.contentSent})`);
  const attempts = tr.headers['x-airoute-attempts'];
  const total = o.primary.length + o.fallback.length;
  if (attempts !== undefined && Number(attempts) !== total) wrong.push(`x-airoute-attempts says ${attempts}, the upstreams got ${total} requests`);
  const backend = tr.headers['x-airoute-backend'];
  if (backend !== undefined && backend !== o.fallbackNames.airouteBackend) wrong.push(`x-airoute-backend says ${backend}, the fallback ${o.fallbackNames.airouteBackend} answered`);
  const idx = tr.headers['x-portkey-last-used-option-index'];
  // Portkey names the target that answered by its path in the config, e.g. `config.targets[1]`.
  if (idx !== undefined && !new RegExp(`(^|\\[)${o.fallbackNames.portkeyIndex}\\]?$`).test(idx)) wrong.push(`x-portkey-last-used-option-index says ${idx}, the fallback (${o.fallbackNames.portkeyIndex}) answered`);
  return wrong.length ? wrong.join('; ') : undefined;
}

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
