// The failure-conduct scorecard's rules: bench/faults.ts runs the scenarios of
// bench/lib/faults-scenarios.ts and judges each cell here. Pure: a verdict is derived only from
// what was observed, the client's transcript(s) and the requests each upstream logged (arrival
// times, what it answered), never from what a system says it does.
//
// The verdicts follow the public failoverbench methodology (METHODOLOGY.md, v0.1): a cell is made
// of checks, each required or advisory; **fail** when a required check fails (a hang, a truncated
// answer presented as success, ...), **pass** when the ideal outcome was reached (the complete
// answer; for a refusal, the refusal itself) and every check held, **partial** when it was reached
// but an advisory check failed (or a refusal was routed around), **safe** when it was not reached
// but every client saw a bounded, explicit error and every required check held.
import type { Fault, RequestLog } from './fault-upstream.ts';
import type { Transcript } from './transcript.ts';

export const FAULT_SYSTEMS = ['direct', 'nginx', 'portkey', 'airoute'] as const;
export type FaultSystem = (typeof FAULT_SYSTEMS)[number];
export type Verdict = 'pass' | 'partial' | 'safe' | 'fail';

/**
 * Where the scenarios run. `isolated`: every scenario has upstream hosts (and airoute backends,
 * nginx upstream blocks) of its own, so nothing carries over. `shared`: one upstream host serves
 * every scenario as different model names, all scenarios back to back in one process per system,
 * each route's fallback a different model on that same host: state a system keeps (circuits,
 * budgets, passive health) carries over from one scenario to the next, as in production.
 */
export const SHAPES = ['isolated', 'shared'] as const;
export type Shape = (typeof SHAPES)[number];

/** Content tokens per answer, milliseconds between them, where mid-stream faults strike. */
export const ANSWER = { chunks: 32, intervalMs: 10, cutAt: 16 };
/** Per backend and client request: 3 attempts (the configured retries) plus one continuation after a mid-stream failure. */
export const MAX_PER_BACKEND = 4;
/** The healthy "alive" request after each scenario must be complete within this (failoverbench's alive probe, tighter). */
export const ALIVE_LIMIT_MS = 3000;

/** A check of the scenario's own beyond the common ones: returns what is wrong, or undefined. */
export interface ScenarioCheck {
  id: string;
  /** What it asks, in words (printed). */
  text: string;
  check: (o: CellObservation) => string | undefined;
}

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
  /** Required conduct beyond a complete answer (a failure is **fail**). */
  passNeeds?: (o: CellObservation) => string | undefined;
  /** Advisory conduct, from failoverbench where it has them (a failure turns a rescue into **partial**). */
  advisory?: ScenarioCheck[];
  /** What pass means here, in words (printed). */
  passMeans: string;
}

export interface CellObservation {
  scenario: Scenario;
  system: FaultSystem;
  shape: Shape;
  /** Per client request, in order. */
  requests: { tr: Transcript; events?: string[] }[];
  primary: RequestLog[];
  fallback: RequestLog[];
  /** The healthy request on another route (model) sent right after the scenario, and how many requests its upstream model got. */
  alive?: { tr: Transcript; upstream: number };
  /** Epoch ms when the upstreams' scripts were set (the outage started then). */
  t0: number;
  limitMs: number;
  expected: string;
  /** Names/indices a system may report for the fallback (header checks). */
  fallbackNames: { airouteBackend: string; portkeyIndex: string };
}

export type CheckStatus = 'ok' | 'failed' | 'n/a';

export interface CheckResult {
  id: string;
  severity: 'required' | 'advisory';
  status: CheckStatus;
  detail: string;
}

export interface CellVerdict {
  verdict: Verdict;
  /** What decided it, in one line. */
  reason: string;
  /** Every check of the cell, with the facts: what the verdict is made of. */
  checks: CheckResult[];
  /** The failed checks, `id: detail` (kept for the report's evidence sections). */
  reasons: string[];
  /** One line: what the client saw and what the upstreams saw. */
  story: string;
}

// ------------------------------------------------------------------ the rules, as printed

export const RULES: { id: string; severity: 'required' | 'advisory'; text: string }[] = [
  { id: 'hang', severity: 'required', text: 'The client had an end of every response within the scenario limit (no hang).' },
  { id: 'silent-truncation', severity: 'required', text: 'No HTTP 200 ending cleanly with no error signal (no error event, no unparsable data, no transport error) while the answer is incomplete or wrong (text not the complete canonical answer, or no finish reason): never a truncated answer presented as success.' },
  { id: 'splice', severity: 'required', text: 'The delivered text is a prefix of the canonical answer: no token duplicated or lost in the middle, no two generations spliced.' },
  { id: 'retried-400', severity: 'required', text: 'A backend that answered 400 never received the same request again (same conversation, same prefill).' },
  { id: 'hid-error', severity: 'required', text: "The provider's own error reached the client: the client's error carries the provider's message or code, and a fallback's own 400 (a refused prefill) is never shown instead of the original failure." },
  { id: 'hammering', severity: 'required', text: `No backend got more than ${MAX_PER_BACKEND} requests for one client request (3 attempts plus one continuation), none got a request sooner than the Retry-After it had sent, and during an outage the primary got no more requests than the client sent in that time (retries never multiply an outage). Stricter than failoverbench, which scores probe discipline as informational.` },
  { id: 'misreported', severity: 'required', text: "After a fallback the answer carries the model name the answering backend was asked for and that backend's usage; any attempt count or backend a system reports in its response headers matches what the upstreams saw." },
  { id: 'conduct', severity: 'required', text: 'The scenario\'s own required conduct (its "pass means") was met (e.g. a complete answer without [DONE] not fetched again, a recovered primary given traffic again).' },
  { id: 'alive', severity: 'required', text: `No grudges: a healthy request on another route (another model; in the shared shape, on the same upstream host), sent right after the scenario, got the complete answer within ${ALIVE_LIMIT_MS / 1000} s from exactly one upstream request. failoverbench sends the same probe after every scenario and requires it in S09 and S10; here it is required everywhere.` },
  { id: 'advisory', severity: 'advisory', text: "The scenario's advisory checks, from failoverbench where it has them: 429 with Retry-After, the primary asked again after it (S01 `retried`); 500 once, a retry on the same backend (S03 `same_provider_retry`); no response, the silent primary asked only once (S06 `silent_route_not_retried`). A failed one turns a rescue into **partial**." },
];

/** How the checks make a verdict (failoverbench's `verdict_for`), as printed. */
export const VERDICTS: { verdict: Verdict; text: string }[] = [
  { verdict: 'fail', text: 'A required check failed (a hang and a truncated answer presented as success are required checks).' },
  { verdict: 'pass', text: 'Rescued (every client request got the complete canonical answer: exact text, finish reason, usage; [DONE] is not required, the SDKs do not need it; for a refusal, the provider\'s error itself, unchanged, after exactly one upstream request) and every check held.' },
  { verdict: 'partial', text: 'Rescued, but an advisory check failed; or, for a refusal, the system answered by routing around it (to the fallback).' },
  { verdict: 'safe', text: 'Not rescued, but every client request that did not complete ended with an error the client can see (an HTTP error status, an in-stream error event, a transport error, or data an SDK refuses to parse) within the limit, whatever was delivered before it was a prefix of the canonical answer, and every required check held.' },
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
  const checks: CheckResult[] = [];
  const failures = new Map<string, string[]>();
  const fail = (id: string, detail: string) => (failures.get(id) ?? failures.set(id, []).get(id)!).push(detail);
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

  // No grudges.
  if (o.alive) {
    const { tr, upstream } = o.alive;
    if (!isComplete(tr, o.expected)) fail('alive', `the healthy request got ${clientLine(tr, o.expected)}`);
    else if (upstream !== 1) fail('alive', `the healthy request's model got ${upstream} upstream requests (want 1)`);
  }

  const allComplete = o.requests.every((r) => isComplete(r.tr, o.expected));
  const refusal = s.errorIsTheAnswer ? refusalOutcome(o) : undefined;
  // The scenario's own required conduct, where it can be judged: on a complete answer, or (an
  // outage) on a recovered primary that must serve again, whatever the outcome of the rest.
  if (refusal === 'neither') fail('conduct', refusalDetail(o));
  else if (!s.errorIsTheAnswer && (allComplete || s.id === 'down-then-recovers')) {
    const need = s.passNeeds?.(o);
    if (need) fail(s.id === 'fallback-accounting' ? 'misreported' : 'conduct', need);
  }

  const applies: Record<string, boolean> = {
    'retried-400': true,
    'hid-error': !!(s.realError || s.neverShow),
    misreported: s.id === 'fallback-accounting',
    conduct: !!(s.passNeeds || s.errorIsTheAnswer),
    alive: !!o.alive,
  };
  for (const r of RULES) {
    if (r.severity !== 'required') continue;
    const got = failures.get(r.id);
    if (got) checks.push({ id: r.id, severity: 'required', status: 'failed', detail: got.join('; ') });
    else if (applies[r.id] === false) checks.push({ id: r.id, severity: 'required', status: 'n/a', detail: 'does not apply here' });
    else checks.push({ id: r.id, severity: 'required', status: 'ok', detail: okDetail(r.id, o) });
  }
  const rescued = refusal ? refusal === 'refusal' : allComplete;
  for (const a of s.advisory ?? []) {
    const why = rescued ? a.check(o) : undefined;
    checks.push({ id: a.id, severity: 'advisory', status: !rescued ? 'n/a' : why ? 'failed' : 'ok', detail: !rescued ? 'judged only on a rescue' : (why ?? a.text) });
  }

  const failedRequired = checks.filter((c) => c.severity === 'required' && c.status === 'failed');
  const failedAdvisory = checks.filter((c) => c.severity === 'advisory' && c.status === 'failed');
  let verdict: Verdict;
  let reason: string;
  if (failedRequired.length) {
    verdict = 'fail';
    reason = `failed: ${failedRequired.map((c) => c.id).join(', ')}`;
  } else if (refusal === 'answered') {
    verdict = 'partial';
    reason = `answered by routing around the refusal (the fallback got ${o.fallback.length} request(s))`;
  } else if (rescued) {
    verdict = failedAdvisory.length ? 'partial' : 'pass';
    reason = refusal
      ? `rescued: the refusal reached the client unchanged (${errorSignal(o.requests[0]!.tr)}), one request to the primary, none to the fallback`
      : `rescued: ${n > 1 ? `all ${n} requests` : 'the answer'} complete and exact`;
    if (failedAdvisory.length) reason += `; advisory: ${failedAdvisory.map((c) => c.id).join(', ')}`;
  } else {
    const errs = o.requests.map((r) => r.tr).filter((tr) => !isComplete(tr, o.expected));
    const signals = errs.map(errorSignal);
    if (signals.every((x) => x !== undefined)) {
      verdict = 'safe';
      reason = `not rescued, clean error: ${errs.length} of ${n} request(s) ended with ${[...new Set(signals)].join(' / ')}${n > 1 ? `, ${n - errs.length} complete` : ''}`;
    } else {
      verdict = 'fail';
      reason = 'neither a complete answer nor a visible error';
    }
  }
  const tr = o.requests[0]!.tr;
  const client = n === 1 ? clientLine(tr, o.expected) : `${o.requests.filter((r) => isComplete(r.tr, o.expected)).length}/${n} complete; first: ${clientLine(tr, o.expected)}; last: ${clientLine(o.requests[n - 1]!.tr, o.expected)}`;
  const alive = o.alive ? ` · alive: ${clientLine(o.alive.tr, o.expected)}, ${o.alive.upstream} upstream request(s)` : '';
  const story = `client: ${client} · ${upstreamLine('primary', o.primary, o.t0)} · ${upstreamLine('fallback', o.fallback, o.t0)}${alive}`;
  const reasons = checks.filter((c) => c.status === 'failed').map((c) => `${c.id}${c.severity === 'advisory' ? ' (advisory)' : ''}: ${c.detail}`);
  return { verdict, reason, checks, reasons, story };
}

/** A refusal scenario: did the refusal reach the client unchanged after one request, was it answered by routing around it, or neither? */
function refusalOutcome(o: CellObservation): 'refusal' | 'answered' | 'neither' {
  const tr = o.requests[0]!.tr;
  if (isComplete(tr, o.expected)) return 'answered';
  const shown = errorSignal(tr) !== undefined && !!o.scenario.realError?.test(errorText(tr));
  return shown && o.primary.length === 1 && o.fallback.length === 0 ? 'refusal' : 'neither';
}

function refusalDetail(o: CellObservation): string {
  const tr = o.requests[0]!.tr;
  const shown = errorSignal(tr) !== undefined && !!o.scenario.realError?.test(errorText(tr));
  const once = o.primary.length === 1 && o.fallback.length === 0;
  return `${shown ? '' : 'the refusal did not reach the client; '}${once ? '' : `primary ${o.primary.length}, fallback ${o.fallback.length} requests (want 1 and 0)`}`.replace(/; $/, '');
}

function okDetail(id: string, o: CellObservation): string {
  const n = o.requests.length;
  switch (id) {
    case 'hang':
      return `every response ended, the last after ${(Math.max(...o.requests.map((r) => r.tr.endMs)) / 1000).toFixed(2)} s`;
    case 'splice':
      return 'every delivered text a prefix of the canonical answer';
    case 'silent-truncation':
      return 'no incomplete answer without an error signal';
    case 'retried-400': {
      const r = [...o.primary, ...o.fallback].filter((x) => x.status === 400).length;
      return r ? `${r} 400(s), none repeated` : 'no 400';
    }
    case 'hid-error':
      return "the provider's error (or none) reached the client";
    case 'hammering':
      return `primary ${o.primary.length}, fallback ${o.fallback.length} requests for ${n} client request(s)`;
    case 'alive':
      return `complete in ${(o.alive!.tr.endMs / 1000).toFixed(2)} s, ${o.alive!.upstream} upstream request`;
    default:
      return 'met';
  }
}
