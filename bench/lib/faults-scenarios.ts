// The failure-conduct scorecard's scenarios (`npm run bench:faults`), in the order they run and
// print: what each upstream does, how the client sends, and what "pass" needs beyond a complete
// answer. They are failoverbench's sixteen (S01..S16, scenarios/catalogue.yaml), with its advisory
// checks where it has them; where they differ, `passMeans` says how. To add one, append it here:
// bench/lib/faults-systems.ts gives it a route (airoute) and an upstream block (nginx) in each
// shape, and bench/lib/faults-judge.ts judges it by the same rules.
import { ANSWER, MAX_PER_BACKEND, type CellObservation, type Scenario } from './faults-judge.ts';

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
      passMeans: 'the complete answer, and the primary is not asked again before its Retry-After (1 s) has passed; advisory (failoverbench S01): the primary asked again after it, rather than only the fallback',
      advisory: [{ id: 'retried', text: 'the primary was asked again after its Retry-After', check: (o) => (o.primary.length >= 2 ? undefined : `the primary was asked ${o.primary.length} time(s)`) }],
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
      passMeans: 'the complete answer, with a bounded number of attempts; advisory (failoverbench S03): a retry on the same backend (failing over instead is acceptable but noted)',
      advisory: [{ id: 'same-backend-retry', text: 'the primary was asked again', check: (o) => (o.primary.length >= 2 ? undefined : `the primary was asked ${o.primary.length} time(s)`) }],
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
      passMeans: 'the complete answer from the fallback, the silent primary abandoned at the configured timeout (1 s); advisory (failoverbench S06): the silent primary asked only once (retrying a silent target multiplies the wait)',
      advisory: [{ id: 'silent-not-retried', text: 'the silent primary was asked once', check: (o) => (o.primary.length <= 1 ? undefined : `the silent primary was asked ${o.primary.length} times`) }],
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
      passMeans: "the provider's refusal reaches the client unchanged (its message or code), after exactly one request to the primary and none to the fallback; answering it by routing around the refusal (to the fallback) is **partial**, as in failoverbench S13",
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
