// Compiles a validated config document into what the data path reads per request: routes by
// model name, each target with its adapter, capabilities, defaults applied and resume strategy
// decided once here, at load time, rather than per request.
import type { FallbackCondition, ResumeStrategy, SecretValue, SidecarConfig, TimeoutChoice } from '../../api/v1alpha1/config.ts';
import { DEFAULTS, FALLBACK_CONDITIONS } from '../../api/v1alpha1/constants.ts';
import { configHash, type ConfigIssue } from '../../api/v1alpha1/validate.ts';
import type { BlockList } from 'node:net';
import type { BrowserPolicy } from '../net/browser-policy.ts';
import { networkList, parseAllowEntry, type AllowedDestination } from '../requests/destinations.ts';
import { adapterFor, DEFAULT_BASE_URL } from '../providers/index.ts';
import type { Capabilities, ProviderAdapter, ResolvedBackend } from '../providers/types.ts';

export interface CircuitSettings {
  consecutiveFailures: number;
  failureRatePercent: number;
  minimumRequests: number;
  windowMs: number;
  cooldownMs: number;
}

export interface RuntimeBackend extends ResolvedBackend {
  adapter: ProviderAdapter;
  caps: Capabilities;
  /** The breaker of each of its deployments, unless a route target overrides it. */
  circuit: CircuitSettings;
  /** The coarser breaker for the host itself (connection refused, DNS, TLS, reset before any response). */
  hostCircuit: CircuitSettings;
}

export interface RuntimeTarget {
  backend: RuntimeBackend;
  /** Model name sent upstream. */
  model: string;
  priority: number;
  weight: number;
  /** The resume strategy this target can honour (prefill downgrades to verify where prefill is not supported). */
  resume: ResumeStrategy;
  /** The breaker of this deployment (backend x model): the backend's, with the deployment's override; one object per deployment. */
  circuit: CircuitSettings;
}

export interface RetrySettings {
  attempts: number;
  baseMs: number;
  maxMs: number;
  honorRetryAfter: boolean;
  budgetPercent: number;
  /** A first-token timeout (no headers, or no first token): move on to the next target, or retry this one. */
  onTimeout: TimeoutChoice;
}

export interface TimeoutSettings {
  connectMs: number;
  firstTokenMs: number;
  idleMs: number;
  totalMs: number;
}

export interface AnswerLimits {
  /** The largest answer held whole (translated non-streamed answers, async results). */
  maxResponseBytes: number;
  /** Delivered characters a stream keeps for a resume. */
  maxCheckpointChars: number;
}

export interface RuntimeRoute {
  model: string;
  targets: RuntimeTarget[];
  retry: RetrySettings;
  timeouts: TimeoutSettings;
  resume: ResumeStrategy;
  fallbackOn: ReadonlySet<FallbackCondition>;
}

export interface RuntimeConfig {
  version: number;
  hash: string;
  routes: ReadonlyMap<string, RuntimeRoute>;
  backends: ReadonlyMap<string, RuntimeBackend>;
  maxBodyBytes: number;
  /** What the sidecar holds of one answer at most (limits.maxResponseBytes, limits.maxCheckpointChars). */
  limits: AnswerLimits;
  asyncMaxInFlight: number;
  asyncMaxStoredBytes: number;
  journal: { type: 'memory' | 'redis'; url?: string; keyPrefix: string; maxRequests: number; maxEventsPerRequest: number; maxBytes: number; ttlMs: number };
  webhooks: {
    allow: string[];
    /** The allow-list, parsed (destinations.ts). */
    allowed: AllowedDestination[];
    /** The private networks callbacks may reach. */
    privateNetworks: BlockList;
    secret?: string;
    attempts: number;
    timeoutMs: number;
    awaitTimeoutMs: number;
  };
  /** Browser-origin policy of the data port, normalised (origins and host names in lower case, no trailing slash or dot). */
  cors: BrowserPolicy;
  /** Every API key and secret value, so logs and errors can be scrubbed of them. */
  secrets: readonly string[];
  /** Things worth saying at load time that are not errors (a downgraded resume strategy). */
  notes: string[];
  source: SidecarConfig;
  /** `namespace/name` of the AIRoute a pushed config came from, if the operator said. */
  origin?: string;
}

export type SecretResolver = (ref: SecretValue, path: string) => string | ConfigIssue;

export const envSecrets =
  (env: NodeJS.ProcessEnv = process.env): SecretResolver =>
  (ref, path) => {
    if ('value' in ref) return ref.value;
    const v = env[ref.env];
    return v !== undefined && v !== '' ? v : { path: `${path}.env`, message: `environment variable ${ref.env} is not set` };
  };

export type Compiled = { ok: true; config: RuntimeConfig } | { ok: false; issues: ConfigIssue[] };

export function compileConfig(doc: SidecarConfig, version: number, resolve: SecretResolver): Compiled {
  const issues: ConfigIssue[] = [];
  const notes: string[] = [];
  const secrets: string[] = [];
  const backends = new Map<string, RuntimeBackend>();
  doc.backends.forEach((b, i) => {
    let apiKey: string | undefined;
    if (b.apiKey) {
      const r = resolve(b.apiKey, `backends[${i}].apiKey`);
      if (typeof r === 'string') {
        apiKey = r;
        secrets.push(r);
      } else issues.push(r);
    }
    const adapter = adapterFor(b);
    const resolved: ResolvedBackend = {
      name: b.name,
      type: b.type,
      baseURL: b.baseURL ?? DEFAULT_BASE_URL[b.type] ?? '',
      headers: b.headers ?? {},
      demo: { tokens: b.demo?.tokens ?? DEFAULTS.demo.tokens, tokensPerSecond: b.demo?.tokensPerSecond ?? DEFAULTS.demo.tokensPerSecond },
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(b.apiVersion !== undefined ? { apiVersion: b.apiVersion } : {}),
      ...(b.prefill !== undefined ? { prefill: b.prefill } : {}),
    };
    const { host, ...c } = b.circuit ?? {};
    backends.set(b.name, {
      ...resolved,
      adapter,
      caps: adapter.capabilities(resolved),
      circuit: circuitSettings(c, DEFAULTS.circuit),
      hostCircuit: circuitSettings(host ?? {}, DEFAULTS.hostCircuit),
    });
  });
  // One circuit per deployment, whichever targets name it: the backend's, with the deployment's
  // override wherever a target gives one (validate() refused two different overrides).
  const overrides = new Map<string, Partial<CircuitSettings>>();
  for (const r of doc.routes) for (const t of r.backends) if (t.circuit) overrides.set(JSON.stringify([t.backend, t.model ?? r.model]), t.circuit);
  const deploymentCircuits = new Map<string, CircuitSettings>();
  const deploymentCircuit = (backend: RuntimeBackend, model: string): CircuitSettings => {
    const key = JSON.stringify([backend.name, model]);
    let settings = deploymentCircuits.get(key);
    if (!settings) deploymentCircuits.set(key, (settings = circuitSettings(overrides.get(key) ?? {}, backend.circuit)));
    return settings;
  };
  const routes = new Map<string, RuntimeRoute>();
  doc.routes.forEach((r, i) => {
    const resume = r.resume ?? DEFAULTS.resume;
    const targets: RuntimeTarget[] = [];
    r.backends.forEach((t, j) => {
      const backend = backends.get(t.backend);
      if (!backend) return; // validate() already reported it
      let targetResume: ResumeStrategy = resume;
      if (resume === 'prefill' && !backend.caps.prefill) {
        targetResume = 'verify';
        notes.push(`routes[${i}].backends[${j}]: backend "${backend.name}" (${backend.type}) cannot continue an assistant prefix; resume uses verify there`);
      }
      const model = t.model ?? r.model;
      targets.push({ backend, model, priority: t.priority ?? j, weight: t.weight ?? DEFAULTS.weight, resume: targetResume, circuit: deploymentCircuit(backend, model) });
    });
    const retry = r.retry ?? {};
    const to = r.timeouts ?? {};
    routes.set(r.model, {
      model: r.model,
      targets,
      resume,
      retry: {
        attempts: retry.attempts ?? DEFAULTS.retry.attempts,
        baseMs: retry.backoff?.baseMs ?? DEFAULTS.retry.baseMs,
        maxMs: retry.backoff?.maxMs ?? DEFAULTS.retry.maxMs,
        honorRetryAfter: retry.honorRetryAfter ?? DEFAULTS.retry.honorRetryAfter,
        budgetPercent: retry.budgetPercent ?? DEFAULTS.retry.budgetPercent,
        onTimeout: retry.onTimeout ?? DEFAULTS.retry.onTimeout,
      },
      timeouts: {
        connectMs: to.connectMs ?? DEFAULTS.timeouts.connectMs,
        firstTokenMs: to.firstTokenMs ?? DEFAULTS.timeouts.firstTokenMs,
        idleMs: to.idleMs ?? DEFAULTS.timeouts.idleMs,
        totalMs: to.totalMs ?? DEFAULTS.timeouts.totalMs,
      },
      fallbackOn: new Set(r.fallbackOn ?? FALLBACK_CONDITIONS),
    });
  });
  let webhookSecret: string | undefined;
  if (doc.webhooks?.secret) {
    const s = resolve(doc.webhooks.secret, 'webhooks.secret');
    if (typeof s === 'string') {
      webhookSecret = s;
      secrets.push(s);
    } else issues.push(s);
  }
  // The Redis password is resolved again where the store is opened (an unresolvable one degrades
  // the journal instead of refusing the config); here it only joins the list of scrubbed secrets.
  if (doc.journal?.password) {
    const p = resolve(doc.journal.password, 'journal.password');
    if (typeof p === 'string') secrets.push(p);
  }
  if (issues.length) return { ok: false, issues };
  const j = doc.journal ?? {};
  const jr = j.retention ?? {};
  const w = doc.webhooks ?? {};
  return {
    ok: true,
    config: {
      version,
      hash: configHash(doc),
      routes,
      backends,
      maxBodyBytes: doc.limits?.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      limits: {
        maxResponseBytes: doc.limits?.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
        maxCheckpointChars: doc.limits?.maxCheckpointChars ?? DEFAULTS.maxCheckpointChars,
      },
      asyncMaxInFlight: doc.async?.maxInFlight ?? DEFAULTS.asyncMaxInFlight,
      asyncMaxStoredBytes: doc.async?.maxStoredBytes ?? DEFAULTS.asyncMaxStoredBytes,
      journal: {
        type: j.type ?? 'memory',
        ...(j.url !== undefined ? { url: j.url } : {}),
        keyPrefix: j.keyPrefix ?? DEFAULTS.journal.keyPrefix,
        maxRequests: jr.maxRequests ?? DEFAULTS.journal.maxRequests,
        maxEventsPerRequest: jr.maxEventsPerRequest ?? DEFAULTS.journal.maxEventsPerRequest,
        maxBytes: jr.maxBytes ?? DEFAULTS.journal.maxBytes,
        ttlMs: jr.ttlMs ?? DEFAULTS.journal.ttlMs,
      },
      webhooks: {
        allow: w.allow ?? [],
        allowed: (w.allow ?? []).flatMap((a) => parseAllowEntry(a) ?? []),
        privateNetworks: networkList(w.privateNetworks ?? []),
        ...(webhookSecret !== undefined ? { secret: webhookSecret } : {}),
        attempts: w.attempts ?? DEFAULTS.webhooks.attempts,
        timeoutMs: w.timeoutMs ?? DEFAULTS.webhooks.timeoutMs,
        awaitTimeoutMs: w.awaitTimeoutMs ?? DEFAULTS.webhooks.awaitTimeoutMs,
      },
      cors: {
        allowOrigins: new Set((doc.cors?.allowOrigins ?? []).map((o) => o.replace(/\/$/, '').toLowerCase())),
        allowHosts: new Set((doc.cors?.allowHosts ?? []).map((h) => h.replace(/\.$/, '').toLowerCase())),
      },
      secrets,
      notes,
      source: doc,
    },
  };
}

function circuitSettings(c: Partial<CircuitSettings>, base: CircuitSettings): CircuitSettings {
  return {
    consecutiveFailures: c.consecutiveFailures ?? base.consecutiveFailures,
    failureRatePercent: c.failureRatePercent ?? base.failureRatePercent,
    minimumRequests: c.minimumRequests ?? base.minimumRequests,
    windowMs: c.windowMs ?? base.windowMs,
    cooldownMs: c.cooldownMs ?? base.cooldownMs,
  };
}
