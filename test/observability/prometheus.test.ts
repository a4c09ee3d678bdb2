// Every dashboard panel query and every alert rule, evaluated by a real Prometheus against real
// series. The system under test is real end to end: the stand-in API server (test/k8s), a real
// operator (leader election, reconcile, config push, admission webhook over TLS, /metrics) and
// two pods whose sidecars are real sidecars; only the LLM providers are scripted mocks.
// Prometheus (Debian's `prometheus`) scrapes both sidecars and the operator every second on
// 127.0.0.1, with the chart's alert rules loaded, while the test causes, twice over:
//   route chat (primary → secondary, resume prefill): a success; a 429 with Retry-After: 1 that is
//   retried; a mid-stream drop that is resumed; two 500s that fall back to the Anthropic backend;
//   route verify (resume verify): a mid-stream drop whose regenerated answer diverges;
//   route budget (retry budget 0%): 12 failing requests, whose retries spend the budget floor;
//   route circuit: 3 failing requests, the circuit opens after 2;
// and, on the control plane: version 1 on both pods, then versions 2 and 3, which pod chat-b
// rejects (the operator counts it as not synced; the sidecar stays on version 1).
// Then every panel's query (variables: All = .*, $__rate_interval = 1m, $__range = 5m) must return
// data carrying the labels its legend shows, the retry/fallback/resume counts must equal what the
// test caused, and every alert must fire for exactly what the test broke.
// Skipped with a message where the prometheus binary is absent; a failure when CI is set.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AIRouteSpec } from '../../api/v1alpha1/airoute.ts';
import type { RunningOperator } from '../../operator/operator.ts';
import { DEFAULT_INJECTION } from '../../operator/webhook/inject.ts';
import { selfSignedCert } from '../k8s/cert.ts';
import type { FakePod } from '../k8s/kubelet.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { airoute, conditionOf, readyAt, secret, testCluster, type TestCluster } from '../operator/harness.ts';
import { streamWith } from '../support/clients.ts';
import { MockProvider } from '../support/mock-provider.ts';
import {
  IN_CI,
  RULES_FILE,
  Prometheus,
  dashboardFiles,
  legendLabels,
  loadDashboard,
  loadRules,
  missingBinaryMessage,
  panelsOf,
  substitute,
  until,
  variableQuery,
  which,
  type PromSample,
} from './support.ts';

const PROMETHEUS = which('prometheus');
const NS = 'team-a';
const AIROUTE = 'llm-gateway';
const KEY = 'sk-observability-REVOKED-000111222';
const BUDGET_REQUESTS = 12;
const CIRCUIT_REQUESTS = 3;
const PHASES = 2;

if (!PROMETHEUS)
  test(missingBinaryMessage('prometheus'), (ctx) => {
    if (IN_CI) throw new Error(missingBinaryMessage('prometheus'));
    ctx.skip();
  });

describe.runIf(!!PROMETHEUS)('dashboards and alerts against a real Prometheus scraping a real sidecar and operator', () => {
  let primary: MockProvider;
  let secondary: MockProvider;
  let flaky: MockProvider;
  let down: MockProvider;
  let cluster: TestCluster;
  let operator: RunningOperator;
  let chatA: FakePod;
  let chatB: FakePod;
  let prom: Prometheus;
  let certDir: string;

  const circuitOff = { consecutiveFailures: 1000, minimumRequests: 100000 };
  const retry = { attempts: 2, backoff: { baseMs: 1, maxMs: 2 } };
  const spec = (withKey: boolean, spare = false): AIRouteSpec => ({
    podSelector: { matchLabels: { app: 'chat' } },
    backends: [
      { name: 'primary', type: 'openai-compatible', baseURL: `${primary.url}/v1`, circuit: circuitOff },
      { name: 'secondary', type: 'anthropic', baseURL: secondary.url, circuit: circuitOff, ...(withKey ? { apiKey: { secretKeyRef: { name: 'llm-keys', key: 'secondary' } } } : {}) },
      { name: 'flaky', type: 'openai-compatible', baseURL: `${flaky.url}/v1`, circuit: circuitOff },
      { name: 'down', type: 'openai-compatible', baseURL: `${down.url}/v1`, circuit: { consecutiveFailures: 2, cooldownMs: 600_000 } },
    ],
    routes: [
      { model: 'chat', backends: [{ backend: 'primary', model: 'p' }, { backend: 'secondary', model: 's' }], retry, resume: 'prefill' },
      { model: 'verify', backends: [{ backend: 'primary', model: 'p' }], retry, resume: 'verify' },
      { model: 'budget', backends: [{ backend: 'flaky', model: 'f' }], retry: { ...retry, budgetPercent: 0 } },
      { model: 'circuit', backends: [{ backend: 'down', model: 'd' }], retry: { attempts: 1 } },
      ...(spare ? [{ model: 'spare', backends: [{ backend: 'secondary' }] }] : []),
    ],
  });

  async function post(model: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${chatA.dataPort}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** One round of the scripted traffic (see the header). */
  async function trafficRound(): Promise<void> {
    const url = `http://127.0.0.1:${chatA.dataPort}`;
    primary.answer = { text: 'one two three four five six seven eight', inputTokens: 9 };
    secondary.answer = { text: 'one two three four five six seven eight', inputTokens: 9 };
    primary.faults = [];
    expect((await streamWith('openai', url, { model: 'chat' })).completed).toBe(true);
    primary.faults = [{ status: 429, retryAfter: '1' }];
    expect((await streamWith('openai', url, { model: 'chat' })).completed).toBe(true);
    primary.faults = [{ dropAfter: 3 }];
    expect((await streamWith('openai', url, { model: 'chat' })).completed).toBe(true);
    primary.faults = [{ status: 500 }, { status: 500 }];
    expect((await streamWith('anthropic', url, { model: 'chat' })).completed).toBe(true);
    primary.faults = [{ dropAfter: 3 }, { diverge: 'A different answer that shares nothing with the first.' }];
    const v = await streamWith('openai', url, { model: 'verify' });
    expect(v.completed).toBe(false);
    expect(v.error?.message).toMatch(/diverged/);
    expect(primary.faults).toEqual([]);
    for (let i = 0; i < BUDGET_REQUESTS; i++) expect(await post('budget')).toBeGreaterThanOrEqual(500);
    for (let i = 0; i < CIRCUIT_REQUESTS; i++) expect(await post('circuit')).toBeGreaterThanOrEqual(500);
  }

  const requestsPerRound = 5 + BUDGET_REQUESTS + CIRCUIT_REQUESTS;

  /** Value of a single-sample query (0 when empty). */
  async function scalar(expr: string): Promise<number> {
    const r = await prom.vector(expr);
    if (r.length > 1) throw new Error(`${expr}: ${r.length} samples`);
    return r.length ? Number(r[0]!.value[1]) : 0;
  }

  async function waitFor(expr: string, want: number, timeoutMs = 20_000): Promise<void> {
    try {
      await until(`${expr} == ${want}`, async () => {
        const got = await scalar(expr);
        return got === want ? undefined : `got ${got}`;
      }, timeoutMs);
    } catch (e) {
      // Say why: the scrape targets' health and what Prometheus logged.
      const t = await prom.api<{ activeTargets: unknown[] }>('/api/v1/targets').catch((x: unknown) => String(x));
      throw new Error(`${(e as Error).message}\ntargets: ${JSON.stringify(t)}\nprometheus log: ${prom.logs}`);
    }
  }

  beforeAll(async () => {
    const mocks = await Promise.all([0, 1, 2, 3].map(() => new MockProvider().start()));
    [primary, secondary, flaky, down] = mocks as [MockProvider, MockProvider, MockProvider, MockProvider];
    flaky.faults = Array.from({ length: 500 }, () => ({ status: 500 }));
    down.faults = Array.from({ length: 500 }, () => ({ status: 500 }));
    certDir = await mkdtemp(join(tmpdir(), 'airoute-obs-webhook-'));
    const { cert, key } = selfSignedCert();
    await writeFile(join(certDir, 'tls.crt'), cert);
    await writeFile(join(certDir, 'tls.key'), key);

    cluster = await testCluster();
    chatA = await cluster.kubelet.addPod(NS, 'chat-a', { labels: { app: 'chat' } });
    // This sidecar's key policy refuses KEY, so it rejects version 2 and stays on version 1.
    chatB = await cluster.kubelet.addPod(NS, 'chat-b', {
      labels: { app: 'chat' },
      resolveSecrets: (ref, path) => ('value' in ref && ref.value === KEY ? { path: `${path}.value`, message: 'key is revoked' } : 'value' in ref ? ref.value : 'x'),
    });
    operator = await cluster.operator({
      http: { host: '127.0.0.1', port: 0 },
      webhook: { certFile: join(certDir, 'tls.crt'), keyFile: join(certDir, 'tls.key'), host: '127.0.0.1', port: 0, settings: DEFAULT_INJECTION, failurePolicy: 'Fail' },
    });

    // Target labels as the chart's PodMonitor / ServiceMonitor (honorLabels) give them.
    prom = await Prometheus.start(PROMETHEUS!, {
      ruleFiles: [RULES_FILE],
      targets: [
        { job: 'airoute-sidecar', address: `127.0.0.1:${chatA.adminPort}`, labels: { namespace: NS, pod: 'chat-a' }, tlsSkipVerify: true },
        { job: 'airoute-sidecar', address: `127.0.0.1:${chatB.adminPort}`, labels: { namespace: NS, pod: 'chat-b' }, tlsSkipVerify: true },
        { job: 'airoute-operator', address: `127.0.0.1:${operator.httpPort}`, labels: { namespace: 'airoute-system', pod: 'airoute-operator-0' }, honorLabels: true },
      ],
    });

    // Control plane: version 1 everywhere, then version 2, which chat-b refuses.
    cluster.api.create('secrets', secret(NS, 'llm-keys', { secondary: KEY }));
    cluster.api.create('airoutes', airoute(NS, AIROUTE, spec(false)));
    await cluster.api.waitFor('airoutes', NS, AIROUTE, readyAt(1, 2));
    const cur = cluster.api.get('airoutes', NS, AIROUTE)!;
    cluster.api.update('airoutes', { ...cur, spec: spec(true) as unknown as JsonObject });
    await cluster.api.waitFor('airoutes', NS, AIROUTE, (o) => conditionOf(o, 'Synced')?.reason === 'Rejected' && chatA.applied.includes(2));
    expect(chatA.applied).toEqual([1, 2]);
    expect(chatB.applied).toEqual([1]);

    // One admission review through the operator's HTTPS webhook.
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'obs-1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: NS,
        operation: 'CREATE',
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: NS, annotations: { 'airoute.dev/inject': 'true' } }, spec: { containers: [{ name: 'app', image: 'app' }] } },
      },
    };
    const dispatcher = new Agent({ connect: { ca: cert } });
    const res = await request(`https://127.0.0.1:${operator.webhookPort}/mutate`, { method: 'POST', body: JSON.stringify(review), headers: { 'content-type': 'application/json' }, dispatcher });
    expect(((await res.body.json()) as { response: { allowed: boolean } }).response.allowed).toBe(true);
    await dispatcher.close();

    // A baseline scrape before any traffic (counters that are gauges start at 0 in the TSDB).
    await waitFor(`airoute_config_version{pod="chat-a"}`, 2);
    await waitFor(`airoute_retry_budget_exhausted_total{pod="chat-a", backend="flaky"}`, 0);
    await waitFor(`sum(airoute_operator_webhook_requests_total)`, 1);
    // Version 3 while Prometheus watches, so the control plane's counters move inside the rate
    // window too: chat-a applies it, chat-b rejects it (the key is still there).
    const v2 = cluster.api.get('airoutes', NS, AIROUTE)!;
    cluster.api.update('airoutes', { ...v2, spec: spec(true, true) as unknown as JsonObject });
    await waitFor(`airoute_config_version{pod="chat-a"}`, 3);
    await waitFor(`sum(airoute_operator_pushes_total{outcome="rejected"})`, 2);
    expect(chatA.applied).toEqual([1, 2, 3]);
    expect(chatB.applied).toEqual([1]);

    // Two rounds, each scraped before the next, so every counter also *moves* inside the
    // 1m rate window (a counter is born at its first increment: rate() needs a second).
    const total = `sum(gen_ai_client_operation_duration_seconds_count{pod="chat-a"})`;
    for (let round = 1; round <= PHASES; round++) {
      await trafficRound();
      await waitFor(total, round * requestsPerRound);
    }
  }, 90_000);

  afterAll(async () => {
    // Every step runs even if an earlier one throws (e.g. after a failed beforeAll).
    const steps = [
      () => prom?.stop(),
      () => cluster?.close(),
      ...[primary, secondary, flaky, down].map((m) => () => m?.stop()),
      () => (certDir ? rm(certDir, { recursive: true, force: true }) : undefined),
    ];
    const errors: unknown[] = [];
    for (const step of steps) await Promise.resolve().then(step).catch((e: unknown) => errors.push(e));
    if (errors.length) throw errors[0];
  });

  // ---------------------------------------------------------------------------------------------

  const bySet = (samples: PromSample[], labels: string[]) =>
    Object.fromEntries(samples.map((s) => [labels.map((l) => s.metric[l] ?? '').join('/'), Number(s.value[1])]));
  /** The label sets that counted something: the sidecar pre-creates its common series at zero. */
  const counted = (samples: PromSample[], labels: string[]) => Object.fromEntries(Object.entries(bySet(samples, labels)).filter(([, v]) => v !== 0));

  test('Prometheus scrapes both sidecars and the operator; the rule file loaded healthy', async () => {
    const t = await prom.api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('/api/v1/targets');
    expect(t.activeTargets.map((x) => `${x.labels.job}/${x.labels.pod}:${x.health}${x.lastError}`).sort()).toEqual([
      'airoute-operator/airoute-operator-0:up',
      'airoute-sidecar/chat-a:up',
      'airoute-sidecar/chat-b:up',
    ]);
    const rules = await prom.api<{ groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules');
    const loaded = rules.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(loadRules().map((r) => r.alert).sort());
    for (const r of loaded) expect(`${r.name}: ${r.health} ${r.lastError ?? ''}`.trim()).toBe(`${r.name}: ok`);
  });

  test('retry, Retry-After, fallback, resume and divergence counts in Prometheus equal what the test caused', async () => {
    const sel = `namespace="${NS}", pod="chat-a"`;
    expect(counted(await prom.vector(`sum by (route, backend, reason) (airoute_retries_total{${sel}, route="chat"})`), ['route', 'backend', 'reason'])).toEqual({
      'chat/primary/upstream_rate_limited': PHASES,
      'chat/primary/upstream_error': PHASES,
    });
    expect(bySet(await prom.vector(`sum by (backend) (airoute_retry_after_seconds_count{${sel}})`), ['backend'])).toEqual({ primary: PHASES });
    expect(await scalar(`sum(airoute_retry_after_seconds_sum{${sel}})`)).toBe(PHASES * 1);
    expect(bySet(await prom.vector(`sum by (route, from, to, reason) (airoute_fallbacks_total{${sel}})`), ['route', 'from', 'to', 'reason'])).toEqual({
      'chat/primary/secondary/retries_exhausted': PHASES,
    });
    const resumes = counted(await prom.vector(`sum by (route, backend, strategy, outcome) (airoute_resumes_total{${sel}})`), ['route', 'backend', 'strategy', 'outcome']);
    expect(resumes['chat/primary/prefill/resumed']).toBe(PHASES);
    expect(resumes['verify/primary/verify/diverged']).toBe(PHASES);
    expect(Object.keys(resumes).filter((k) => k.startsWith('chat/'))).toEqual(['chat/primary/prefill/resumed']);
    expect(bySet(await prom.vector(`sum by (route, backend) (airoute_stream_diverged_total{${sel}})`), ['route', 'backend'])).toEqual({ 'verify/primary': PHASES });
    // attempts on chat per round: 1 (ok) + 2 (429, retry) + 2 (drop, resume) + 3 (500, 500, fallback)
    expect(await scalar(`sum(airoute_attempts_total{${sel}, route="chat"})`)).toBe(PHASES * 8);
    const outcomes = bySet(await prom.vector(`sum by (route, outcome) (gen_ai_client_operation_duration_seconds_count{${sel}})`), ['route', 'outcome']);
    expect(outcomes['chat/success']).toBe(PHASES * 4);
    expect(Object.entries(outcomes).filter(([k]) => k.startsWith('verify/') && k !== 'verify/success').reduce((n, [, v]) => n + v, 0)).toBe(PHASES);
    expect(outcomes['budget/error']).toBe(PHASES * BUDGET_REQUESTS);
    expect(outcomes['circuit/error']).toBe(PHASES * CIRCUIT_REQUESTS);
    // Each budget request failed once and then either retried or had its retry refused.
    const exhausted = await scalar(`sum(airoute_retry_budget_exhausted_total{${sel}, backend="flaky"})`);
    expect(exhausted).toBeGreaterThan(0);
    expect((await scalar(`sum(airoute_retries_total{${sel}, route="budget"})`)) + exhausted).toBe(PHASES * BUDGET_REQUESTS);
    expect(await scalar(`airoute_circuit_state{${sel}, backend="down"}`)).toBe(2);
    // control plane, as both sides count it
    expect(bySet(await prom.vector(`airoute_config_version{namespace="${NS}"}`), ['pod'])).toEqual({ 'chat-a': 3, 'chat-b': 1 });
    expect(bySet(await prom.vector(`sum by (pod, outcome) (airoute_config_push_total{namespace="${NS}"})`), ['pod', 'outcome'])).toEqual({
      'chat-a/applied': 3,
      'chat-b/applied': 1,
      'chat-b/invalid': 2,
    });
    expect(bySet(await prom.vector('sum by (outcome) (airoute_operator_pushes_total)'), ['outcome'])).toEqual({ applied: 4, rejected: 2 });
    expect(bySet(await prom.vector(`airoute_operator_route_config_version`), ['namespace', 'route'])).toEqual({ [`${NS}/${AIROUTE}`]: 3 });
  });

  // One outcome per recovery: stream.resumed is announced only once a continuation delivers new
  // content (for verify: after the prefix checked out), and a diverged one is not also "failed".
  test('a diverged verify resume counts once in airoute_resumes_total, as outcome="diverged"', async () => {
    const resumes = counted(await prom.vector(`sum by (route, strategy, outcome) (airoute_resumes_total{namespace="${NS}", route="verify"})`), ['route', 'strategy', 'outcome']);
    expect(resumes).toEqual({ 'verify/verify/diverged': PHASES });
  });

  // ---------------------------------------------------------------------------------------------

  /** Label sets (subsets) that must appear among a panel's results, by dashboard and panel title. */
  const EXPECTED: Record<string, Record<string, Record<string, string>[]>> = {
    'overview.json': {
      'Requests/s by outcome': [{ outcome: 'success' }, { outcome: 'error' }],
      'Error ratio by route': [{ route: 'chat' }, { route: 'budget' }, { route: 'circuit' }, { route: 'verify' }],
      'Errors/s by code': [{ route: 'budget' }, { route: 'circuit' }, { route: 'verify' }],
      'In-stream errors/s': [{ route: 'verify' }],
      'Tokens/s by type': [{ gen_ai_token_type: 'input' }, { gen_ai_token_type: 'output' }],
      'Retries/s by reason': [
        { route: 'chat', backend: 'primary', reason: 'upstream_rate_limited' },
        { route: 'chat', backend: 'primary', reason: 'upstream_error' },
      ],
      'Fallbacks/s': [{ route: 'chat', from: 'primary', to: 'secondary', reason: 'retries_exhausted' }],
      'Resumes/s by strategy and outcome': [
        { route: 'chat', strategy: 'prefill', outcome: 'resumed' },
        { route: 'verify', strategy: 'verify', outcome: 'diverged' },
      ],
      'Diverged streams/s': [{ route: 'verify', backend: 'primary' }],
      'Async requests in flight': [{ namespace: NS, pod: 'chat-a' }, { namespace: NS, pod: 'chat-b' }],
    },
    'backends.json': {
      'Attempt error ratio by backend': [{ backend: 'primary' }, { backend: 'secondary' }, { backend: 'flaky' }, { backend: 'down' }],
      'Circuit state (worst sidecar)': [{ backend: 'down' }, { backend: 'primary' }],
      'Sidecars with the circuit open': [{ backend: 'down' }],
      'Rate-limited attempts/s (429)': [{ backend: 'primary' }],
      'Retry-After hints honoured/s': [{ backend: 'primary' }],
      'Retry-After seen': [{ backend: 'primary' }],
      'Retry budget exhaustions/s': [{ backend: 'flaky' }],
      'Requests/s by backend and provider': [
        { backend: 'primary', gen_ai_provider_name: 'openai_compatible', outcome: 'success' },
        { backend: 'secondary', gen_ai_provider_name: 'anthropic', outcome: 'success' },
      ],
      'Fallbacks/s away from backend': [{ from: 'primary', to: 'secondary' }],
    },
    'control-plane.json': {
      'Config version per pod vs desired': [{ pod: 'chat-a' }, { pod: 'chat-b' }, { namespace: NS, route: AIROUTE }],
      'Pods off the desired version': [{ namespace: NS, pod: 'chat-b', version: '1' }],
      'Pods synced / targeted per AIRoute': [{ namespace: NS, route: AIROUTE }],
      'Pushes received by sidecars/s': [{ outcome: 'applied' }, { outcome: 'invalid' }],
      'Operator pushes/s by outcome': [{ outcome: 'applied' }, { outcome: 'rejected' }],
      'Reconciles/s by result': [{ result: 'ok' }],
      'Admission webhook reviews/s': [{ outcome: 'injected' }],
      'Work queue depth': [{ instance: '' }],
    },
  };

  const matches = (s: PromSample, want: Record<string, string>) => Object.entries(want).every(([k, v]) => (v === '' ? k in s.metric : s.metric[k] === v));

  describe.each(dashboardFiles())('%s', (file) => {
    const d = loadDashboard(file);
    const all = Object.fromEntries(d.templating.list.filter((v) => v.type === 'query').map((v) => [v.name, '.*']));

    test('every template variable query (label_values) finds values', async () => {
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        const m = /^label_values\((?:(.+), )?(\w+)\)$/.exec(variableQuery(v));
        expect(m, v.name).not.toBeNull();
        const series = substitute(m![1]!, all);
        const values = (await prom.vector(`group by (${m![2]}) (${series})`)).map((s) => s.metric[m![2]!]).filter(Boolean);
        expect(values.length, `${v.name}: ${variableQuery(v)}`).toBeGreaterThan(0);
        if (v.name === 'namespace') expect(values).toEqual([NS]);
      }
    });

    test('every panel query returns data with the labels its legend shows, and finite values', async () => {
      const problems: string[] = [];
      const seen = new Set<string>();
      for (const p of panelsOf(d)) {
        seen.add(p.title);
        const samples: PromSample[] = [];
        for (const t of p.targets ?? []) {
          const expr = substitute(t.expr!, all);
          let r;
          try {
            r = await prom.query(expr);
          } catch (e) {
            problems.push(`${p.title} [${t.refId}]: ${(e as Error).message}`);
            continue;
          }
          if (r.resultType === 'scalar') continue;
          if (r.resultType !== 'vector' || r.result.length === 0) {
            problems.push(`${p.title} [${t.refId}]: no data for ${expr}`);
            continue;
          }
          for (const s of r.result) for (const l of legendLabels(t.legendFormat)) if (!s.metric[l]) problems.push(`${p.title} [${t.refId}]: a series without label ${l}: ${JSON.stringify(s.metric)}`);
          if (!r.result.some((s) => Number.isFinite(Number(s.value[1])))) problems.push(`${p.title} [${t.refId}]: only NaN/Inf values for ${expr}`);
          samples.push(...r.result);
        }
        for (const want of EXPECTED[file]?.[p.title] ?? [])
          if (!samples.some((s) => matches(s, want))) problems.push(`${p.title}: no series with ${JSON.stringify(want)} among ${JSON.stringify(samples.map((s) => s.metric))}`);
      }
      for (const title of Object.keys(EXPECTED[file] ?? {})) if (!seen.has(title)) problems.push(`expectation for a panel that does not exist: ${title}`);
      expect(problems).toEqual([]);
    });
  });

  test('values that the panels show are the ones the test caused', async () => {
    const q = (expr: string) => prom.vector(substitute(expr, { namespace: '.*', route: '.*', backend: '.*' }));
    const overview = panelsOf(loadDashboard('overview.json'));
    const ratio = overview.find((p) => p.title === 'Error ratio by route')!.targets![0]!.expr!;
    const r = bySet(await q(ratio), ['route']);
    expect(r).toMatchObject({ chat: 0, budget: 1, circuit: 1, verify: 1 });
    // the diverged-streams stat counts the second round's divergence at least (the first one is
    // the counter's birth, which increase() cannot see)
    const diverged = overview.find((p) => p.title === 'Diverged streams')!.targets![0]!.expr!;
    expect(Number((await q(diverged))[0]!.value[1])).toBeGreaterThanOrEqual(1);
    const circuit = panelsOf(loadDashboard('backends.json')).find((p) => p.title === 'Circuit state (worst sidecar)')!.targets![0]!.expr!;
    expect(bySet(await q(circuit), ['backend'])).toEqual({ primary: 0, secondary: 0, flaky: 0, down: 2 });
    const synced = panelsOf(loadDashboard('control-plane.json')).find((p) => p.title === 'Pods synced / targeted per AIRoute')!.targets!;
    expect(await q(synced[0]!.expr!).then((s) => s.map((x) => Number(x.value[1])))).toEqual([1]);
    expect(await q(synced[1]!.expr!).then((s) => s.map((x) => Number(x.value[1])))).toEqual([2]);
  });

  // ---------------------------------------------------------------------------------------------

  /** Exactly the label sets each alert must produce on this traffic (alert labels excluded). */
  const ALERTS: Record<string, { labels: Record<string, string>[]; exact: boolean }> = {
    AirouteHighErrorRatio: { labels: [{ namespace: NS, route: 'budget' }], exact: false },
    AirouteCircuitOpen: { labels: [{ namespace: NS, backend: 'down' }], exact: true },
    AirouteRetryBudgetExhausted: { labels: [{ namespace: NS, backend: 'flaky' }], exact: true },
    AirouteStreamDiverged: { labels: [{ namespace: NS, route: 'verify', backend: 'primary' }], exact: true },
    AirouteConfigDrift: { labels: [{ namespace: NS, pod: 'chat-b', version: '1' }], exact: true },
    AirouteRouteNotSynced: { labels: [{ namespace: NS, route: AIROUTE }], exact: true },
    AirouteConfigRejected: { labels: [{ namespace: NS, pod: 'chat-b', outcome: 'invalid' }], exact: true },
  };

  test('every alert expression fires for exactly what the test broke', async () => {
    const rules = loadRules();
    expect(Object.keys(ALERTS).sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const r of rules) {
      const got = (await prom.vector(r.expr)).map((s) => s.metric);
      const want = ALERTS[r.alert]!;
      if (want.exact) expect(got, r.alert).toEqual(want.labels);
      else for (const w of want.labels) expect(got, r.alert).toContainEqual(w);
    }
    // The healthy route and the healthy pod do not alert.
    const errorRatio = (await prom.vector(rules.find((r) => r.alert === 'AirouteHighErrorRatio')!.expr)).map((s) => s.metric.route);
    expect(errorRatio).not.toContain('chat');
  });

  test('Prometheus itself evaluates the loaded rules: every alert is pending or firing', async () => {
    const names = loadRules().map((r) => r.alert);
    await until(
      'every alert pending or firing',
      async () => {
        const a = await prom.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
        const active = new Set(a.alerts.filter((x) => x.state === 'pending' || x.state === 'firing').map((x) => x.labels.alertname));
        const missing = names.filter((n) => !active.has(n));
        return missing.length ? `not active: ${missing.join(', ')}` : undefined;
      },
      10_000,
    );
    const a = await prom.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts');
    // for: 0 alerts fire at once
    for (const n of ['AirouteStreamDiverged', 'AirouteConfigRejected']) expect(a.alerts.find((x) => x.labels.alertname === n)?.state, n).toBe('firing');
  });
});
