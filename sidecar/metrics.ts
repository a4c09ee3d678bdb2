// Prometheus metrics (prom-client) named after the OpenTelemetry GenAI semantic conventions in
// their Prometheus form, plus airoute_ series for what the conventions do not cover. Every label
// value comes from the config (route, backend, upstream model) or a closed set (outcome, reason, code): never
// from a request, so the series count is bounded by the config, whatever clients send.
// Nothing is observed per chunk: requests are observed once, at their end.
import client, { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { BackendType } from '../api/v1alpha1/config.ts';
import type { RuntimeConfig } from './config/runtime.ts';
import type { Journal } from './events/journal.ts';
import type { LifecycleEvent } from './events/types.ts';
import { DEFECT_SITES, type RequestRecord, type Sidecar } from './sidecar.ts';
import { FastCounter, FastGauge, FastHistogram, type CounterSeries, type GaugeSeries, type HistogramSeries } from './metrics-series.ts';
import { CIRCUIT_STATE_VALUE } from './stages/circuit-breaker.ts';

/** gen_ai.provider.name values (OTel registry where one exists). */
export const PROVIDER_NAME: Record<BackendType, string> = {
  openai: 'openai',
  'azure-openai': 'azure.ai.openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  'openai-compatible': 'openai_compatible',
  demo: 'airoute.demo',
};

const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];
const TPOT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/** The Responses API's endpoints, as a closed label set. */
export type ResponsesEndpoint = 'create' | 'create_background' | 'retrieve' | 'retrieve_stream' | 'cancel' | 'delete';

/** What the admin port did with a pushed config (the operator has its own view of a push: operator/metrics.ts). */
export type ConfigPushResult = 'applied' | 'stale' | 'invalid' | 'unauthorized' | 'disabled';

export interface MetricsSources {
  journal: () => Journal;
  asyncInFlight: () => number;
  /** Requests refused under memory pressure so far. */
  shed?: () => number;
}

/** The series one request's end is observed in, resolved once per (route, backend, operation) and kept. */
interface EndSeries {
  duration: Partial<Record<RequestRecord['outcome'], HistogramSeries>>;
  ttft: HistogramSeries;
  tpot: HistogramSeries;
  tokensIn: HistogramSeries;
  tokensOut: HistogramSeries;
}

/** Two-level lookup by strings the record already has, so a hot-path lookup builds no key. */
function nested<V>(outer: Map<string, Map<string, V>>, a: string, b: string, make: () => V): V {
  let inner = outer.get(a);
  if (!inner) outer.set(a, (inner = new Map()));
  let v = inner.get(b);
  if (v === undefined) inner.set(b, (v = make()));
  return v;
}

export class SidecarMetrics {
  readonly registry = new Registry();
  private readonly routeOf = new Map<string, string>();
  // Observed for every request: the fast series of metrics-series.ts (same Registry, same format).
  private readonly duration: FastHistogram;
  private readonly ttft: FastHistogram;
  private readonly tpot: FastHistogram;
  private readonly tokens: FastHistogram;
  private readonly attempts: FastCounter;
  private readonly active: FastGauge;
  private readonly errors: Counter<string>;
  private readonly attemptFailures: Counter<string>;
  private readonly retries: Counter<string>;
  private readonly retryAfter: Histogram<string>;
  private readonly fallbacks: Counter<string>;
  private readonly resumes: Counter<string>;
  private readonly diverged: Counter<string>;
  private readonly streamErrors: Counter<string>;
  private readonly pushes: Counter<string>;
  private readonly webhooks: Counter<string>;
  private readonly responsesCalls: Counter<string>;
  private readonly endSeries = new Map<string, Map<string, EndSeries>>();
  private readonly attemptSeries = new Map<string, Map<string, Partial<Record<string, CounterSeries>>>>();
  private readonly activeSeries: Record<'true' | 'false', GaugeSeries>;
  /** Requests between a mid-stream failure (checkpoint) and its recovery, with the route's strategy. */
  private readonly recovering = new Map<string, { strategy: string; backend: string }>();

  constructor(sc: Sidecar, sources: MetricsSources) {
    const r = this.registry;
    // A coarser event-loop monitor than the default 10 ms: an idle sidecar should not wake 100 times a second.
    client.collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: 100 });
    const fast = <M extends FastHistogram | FastCounter | FastGauge>(m: M): M => {
      // prom-client's Registry reads any object with name, help, type and get(): see metrics-series.ts.
      r.registerMetric(m as unknown as Metric);
      return m;
    };
    const requestLabels = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'route', 'backend'] as const;
    this.duration = fast(new FastHistogram({ name: 'gen_ai_client_operation_duration_seconds', help: 'GenAI operation duration, as the app sees it through the sidecar.', labelNames: [...requestLabels, 'outcome'], buckets: DURATION_BUCKETS }));
    this.ttft = fast(new FastHistogram({ name: 'gen_ai_server_time_to_first_token_seconds', help: 'Time from request to the first content the client received.', labelNames: requestLabels, buckets: TTFT_BUCKETS }));
    this.tpot = fast(new FastHistogram({ name: 'gen_ai_server_time_per_output_token_seconds', help: 'Time per output token after the first.', labelNames: requestLabels, buckets: TPOT_BUCKETS }));
    this.tokens = fast(new FastHistogram({ name: 'gen_ai_client_token_usage', help: 'Tokens used per request, by type.', labelNames: [...requestLabels, 'gen_ai_token_type'], buckets: TOKEN_BUCKETS }));
    this.errors = new Counter({ name: 'airoute_request_errors_total', help: 'Requests that ended in an error, by error code.', labelNames: ['route', 'code'], registers: [r] });
    this.attempts = fast(new FastCounter('airoute_attempts_total', 'Upstream attempts started.', ['route', 'backend', 'mode']));
    this.attemptFailures = new Counter({ name: 'airoute_attempt_failures_total', help: 'Upstream attempts that failed, by phase and code.', labelNames: ['route', 'backend', 'phase', 'code'], registers: [r] });
    this.retries = new Counter({ name: 'airoute_retries_total', help: 'Retries scheduled, by reason.', labelNames: ['route', 'backend', 'reason'], registers: [r] });
    this.retryAfter = new Histogram({ name: 'airoute_retry_after_seconds', help: 'Retry-After values honoured, by backend.', labelNames: ['backend'], buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: [r] });
    this.fallbacks = new Counter({ name: 'airoute_fallbacks_total', help: 'Moves to the next backend of a chain.', labelNames: ['route', 'from', 'to', 'reason'], registers: [r] });
    this.resumes = new Counter({ name: 'airoute_resumes_total', help: 'Mid-stream recoveries, by strategy and outcome.', labelNames: ['route', 'backend', 'strategy', 'outcome'], registers: [r] });
    this.diverged = new Counter({ name: 'airoute_stream_diverged_total', help: 'Verify resumes whose regenerated text differed from what was delivered.', labelNames: ['route', 'backend'], registers: [r] });
    this.streamErrors = new Counter({ name: 'airoute_stream_errors_total', help: 'Streams that ended with an in-stream error after content reached the client.', labelNames: ['route', 'code'], registers: [r] });
    this.pushes = new Counter({ name: 'airoute_config_push_total', help: 'Config pushes received on the admin port, by outcome.', labelNames: ['outcome'], registers: [r] });
    this.webhooks = new Counter({ name: 'airoute_webhook_deliveries_total', help: 'Webhook deliveries, by outcome.', labelNames: ['outcome'], registers: [r] });
    const defects = new Counter({ name: 'airoute_internal_errors_total', help: 'Defects of the sidecar itself that ended one request or socket (the process went on), by where they surfaced.', labelNames: ['site'], registers: [r] });
    for (const site of DEFECT_SITES) defects.inc({ site }, 0);
    sc.onDefect((site) => defects.inc({ site }));
    this.responsesCalls = new Counter({ name: 'airoute_responses_api_calls_total', help: 'Calls of the Responses API endpoints, by endpoint and HTTP status class.', labelNames: ['endpoint', 'status'], registers: [r] });
    this.active = fast(new FastGauge('airoute_active_requests', 'Requests in flight, by whether they stream.', ['stream']));
    this.activeSeries = { true: this.active.with('true'), false: this.active.with('false') };
    new Gauge({
      name: 'airoute_circuit_state',
      help: 'Circuit state per deployment (backend x upstream model): 0 closed, 1 half-open, 2 open. One model\'s circuit never blocks another model of the backend.',
      labelNames: ['backend', 'model'],
      registers: [r],
      collect() {
        this.reset();
        for (const c of sc.resilience.snapshot()) if (c.level === 'deployment') this.set({ backend: c.backend, model: c.model! }, CIRCUIT_STATE_VALUE[c.state]);
      },
    });
    new Gauge({
      name: 'airoute_host_circuit_state',
      help: 'Circuit state of a backend\'s host (connection refused, DNS, TLS, reset before any response, from any model): 0 closed, 1 half-open, 2 open. Open blocks every model of the backend.',
      labelNames: ['backend'],
      registers: [r],
      collect() {
        this.reset();
        for (const c of sc.resilience.snapshot()) if (c.level === 'host') this.set({ backend: c.backend }, CIRCUIT_STATE_VALUE[c.state]);
      },
    });
    new Gauge({
      name: 'airoute_retry_budget_exhausted_total',
      help: 'Retries refused because the deployment\'s (backend x upstream model) retry budget was spent (monotonic).',
      labelNames: ['backend', 'model'],
      registers: [r],
      collect() {
        this.reset();
        for (const b of sc.resilience.budgetExhaustions()) this.set({ backend: b.backend, model: b.model }, b.exhausted);
      },
    });
    const journalGauge = (name: string, help: string, pick: (s: ReturnType<Journal['stats']>) => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(pick(sources.journal().stats()));
        },
      });
    journalGauge('airoute_journal_requests', 'Requests whose events the journal keeps.', (s) => s.requests);
    journalGauge('airoute_journal_events', 'Events the journal keeps.', (s) => s.events);
    journalGauge('airoute_journal_bytes', 'Approximate bytes the journal keeps.', (s) => s.bytes);
    journalGauge('airoute_journal_evictions_total', 'Requests evicted from the journal (monotonic).', (s) => s.evictions);
    // Shared stores (Redis): what did not reach the store, what is waiting for it, and whether it answers.
    journalGauge('airoute_journal_dropped_total', 'Events the journal could not keep: its store was unreachable and the write buffer full (monotonic).', (s) => s.dropped ?? 0);
    journalGauge('airoute_journal_pending_writes', 'Journal writes waiting for the store (Redis); 0 for the memory journal.', (s) => s.pending ?? 0);
    journalGauge('airoute_journal_store_up', 'Whether the journal store answers (1) or not (0); always 1 for the memory journal.', (s) => (s.up === false ? 0 : 1));
    new Gauge({
      name: 'airoute_load_shed_total',
      help: 'New requests refused with 503 because the heap neared its budget (monotonic).',
      registers: [r],
      collect() {
        this.set(sources.shed?.() ?? 0);
      },
    });
    new Gauge({
      name: 'airoute_async_inflight',
      help: 'Async requests in flight (the async queue depth).',
      registers: [r],
      collect() {
        this.set(sources.asyncInFlight());
      },
    });
    new Gauge({
      name: 'airoute_config_version',
      help: 'Version of the config the sidecar runs (0: a local file; -1: none yet).',
      registers: [r],
      collect() {
        this.set(sc.config?.version ?? -1);
      },
    });
    new Gauge({
      name: 'airoute_config_info',
      help: 'The running config: its content hash, version and source AIRoute (namespace/name, empty for a local file) as labels, value 1.',
      labelNames: ['hash', 'version', 'airoute'],
      registers: [r],
      collect() {
        this.reset();
        if (sc.config) this.set({ hash: sc.config.hash, version: String(sc.config.version), airoute: sc.config.origin ?? '' }, 1);
      },
    });
    sc.onEvent(this.onEvent);
    // Series exist from the first scrape (at zero), so rate()/increase() see the first event of each.
    const zero = (c: RuntimeConfig) => {
      for (const route of c.routes.values())
        for (const t of route.targets) {
          const labels = { route: route.model, backend: t.backend.name };
          this.attemptsOf(route.model, t.backend.name, 'fresh').inc(0);
          for (const reason of ['upstream_rate_limited', 'upstream_error']) this.retries.inc({ ...labels, reason }, 0);
          this.resumes.inc({ ...labels, strategy: t.resume, outcome: 'resumed' }, 0);
        }
    };
    if (sc.config) zero(sc.config);
    sc.onConfig(zero);
    sc.observe({ requestFinished: (rec) => this.requestFinished(rec) });
  }

  /** Lifecycle events: content deltas return at the first comparison (the per-chunk path). */
  private onEvent = (ev: LifecycleEvent): void => {
    switch (ev.type) {
      case 'content.delta':
        return;
      case 'request.accepted':
        this.routeOf.set(ev.requestId, String(ev.data.model));
        this.activeSeries[ev.data.stream === true ? 'true' : 'false'].inc();
        return;
      case 'attempt.started':
        this.attemptsOf(this.route(ev), ev.data.backend, ev.data.mode).inc();
        return;
      case 'attempt.failed':
        this.attemptFailures.inc({ route: this.route(ev), backend: String(ev.data.backend), phase: String(ev.data.phase), code: String(ev.data.code) });
        if (ev.data.code === 'stream_diverged') {
          this.diverged.inc({ route: this.route(ev), backend: String(ev.data.backend) });
          this.resumes.inc({ route: this.route(ev), backend: String(ev.data.backend), strategy: 'verify', outcome: 'diverged' });
          this.recovering.delete(ev.requestId);
        }
        return;
      case 'checkpoint':
        this.recovering.set(ev.requestId, { strategy: String(ev.data.strategy), backend: String(ev.data.backend) });
        return;
      case 'retry.scheduled':
        this.retries.inc({ route: this.route(ev), backend: String(ev.data.backend), reason: String(ev.data.reason) });
        if (typeof ev.data.retryAfterMs === 'number') this.retryAfter.observe({ backend: String(ev.data.backend) }, ev.data.retryAfterMs / 1000);
        return;
      case 'fallback':
        this.fallbacks.inc({ route: this.route(ev), from: String(ev.data.from), to: String(ev.data.to), reason: String(ev.data.reason) });
        return;
      case 'stream.resumed':
        this.recovering.delete(ev.requestId);
        this.resumes.inc({ route: this.route(ev), backend: String(ev.data.backend), strategy: String(ev.data.mode), outcome: 'resumed' });
        return;
      case 'request.completed':
      case 'request.failed':
      case 'request.cancelled': {
        const open = this.recovering.get(ev.requestId);
        // A stream that failed mid-way and was not recovered: either the route resumes nothing, or no backend could continue.
        // a diverged verify resume was already counted as outcome="diverged"
        if (open && ev.type === 'request.failed' && (ev.data.error as { code?: string } | undefined)?.code !== 'stream_diverged')
          this.resumes.inc({ route: this.route(ev), backend: open.backend, strategy: open.strategy, outcome: open.strategy === 'none' ? 'skipped' : 'failed' });
        this.recovering.delete(ev.requestId);
        this.routeOf.delete(ev.requestId);
        return;
      }
    }
  };

  private route(ev: LifecycleEvent): string {
    return this.routeOf.get(ev.requestId) ?? 'unknown';
  }

  private attemptsOf(route: string, backend: string, mode: string): CounterSeries {
    const modes = nested(this.attemptSeries, route, backend, (): Partial<Record<string, CounterSeries>> => ({}));
    return (modes[mode] ??= this.attempts.with(route, backend, mode));
  }

  private endSeriesOf(rec: RequestRecord): EndSeries {
    const op = rec.operation === 'embeddings' ? 'embeddings' : 'chat';
    const backend = rec.backend ?? 'none';
    return nested(this.endSeries, rec.route, op === 'chat' ? backend : `${backend}\u0001embeddings`, () => {
      const provider = rec.provider ? PROVIDER_NAME[rec.provider as BackendType] ?? rec.provider : 'none';
      const labels = [op, provider, rec.route, rec.route, backend] as const;
      return {
        duration: {},
        ttft: this.ttft.with(...labels),
        tpot: this.tpot.with(...labels),
        tokensIn: this.tokens.with(...labels, 'input'),
        tokensOut: this.tokens.with(...labels, 'output'),
      };
    });
  }

  private requestFinished(rec: RequestRecord): void {
    this.activeSeries[rec.stream ? 'true' : 'false'].dec();
    const s = this.endSeriesOf(rec);
    let duration = s.duration[rec.outcome];
    if (!duration) {
      const provider = rec.provider ? PROVIDER_NAME[rec.provider as BackendType] ?? rec.provider : 'none';
      duration = s.duration[rec.outcome] = this.duration.with(rec.operation === 'embeddings' ? 'embeddings' : 'chat', provider, rec.route, rec.route, rec.backend ?? 'none', rec.outcome);
    }
    duration.observe(rec.durationMs / 1000);
    if (rec.outcome !== 'success') {
      this.errors.inc({ route: rec.route, code: rec.code ?? 'unknown' });
      if (rec.stream && rec.ttftMs !== undefined) this.streamErrors.inc({ route: rec.route, code: rec.code ?? 'unknown' });
    }
    if (rec.ttftMs !== undefined && rec.outcome === 'success') {
      s.ttft.observe(rec.ttftMs / 1000);
      const out = rec.usage?.outputTokens ?? 0;
      if (rec.stream && out > 1) s.tpot.observe((rec.durationMs - rec.ttftMs) / 1000 / (out - 1));
    }
    if (rec.usage) {
      s.tokensIn.observe(rec.usage.inputTokens);
      s.tokensOut.observe(rec.usage.outputTokens);
    }
  }

  pushOutcome(outcome: ConfigPushResult): void {
    this.pushes.inc({ outcome });
  }

  /** One call of a Responses API endpoint, with the status it was answered (a stream: 200). */
  responsesCall(endpoint: ResponsesEndpoint, status: number): void {
    this.responsesCalls.inc({ endpoint, status: `${Math.floor(status / 100)}xx` });
  }

  webhookDelivered(ok: boolean): void {
    this.webhooks.inc({ outcome: ok ? 'delivered' : 'failed' });
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
