// The sidecar config document: one schema that gives the TypeScript types, the runtime validator
// (validate.ts, through generated/check-config.ts: npm run gen:schema-check after a change here)
// and the JSON Schema the AIRoute CRD is generated from.
// Every object is closed (additionalProperties: false) so a typo is an error that names
// its path instead of a silently ignored field.
import Type, { type Static } from 'typebox';
import { BACKEND_TYPES, DEFAULTS, FALLBACK_CONDITIONS, NAME_PATTERN, RESUME_STRATEGIES, TIMEOUT_CHOICES, UPSTREAM_APIS } from './constants.ts';

// The plain values live in constants.ts (no typebox there, so the sidecar's data path can read
// them without loading the schema library); re-exported so this stays the one place to read the vocabulary.
export { API_CHOICE_TYPES, BACKEND_TYPES, DEFAULTS, FALLBACK_CONDITIONS, NAME_PATTERN, PREFILL_BY_DEFAULT, RESUME_STRATEGIES, TIMEOUT_CHOICES, UPSTREAM_APIS, type TimeoutChoice } from './constants.ts';

const closed = { additionalProperties: false } as const;

export const BackendType = Type.Enum(BACKEND_TYPES, { description: 'Wire protocol of the provider.' });
export type BackendType = Static<typeof BackendType>;

export const UpstreamApi = Type.Enum(UPSTREAM_APIS, {
  description:
    'Which OpenAI API the upstream serves (openai, azure-openai, openai-compatible). both (the default for openai and azure-openai): Chat Completions and Responses clients each reach their own API unchanged, Messages clients go to Chat Completions. responses: every client goes to /responses (for models served only there). chat-completions (the default for openai-compatible): every client goes to /chat/completions.',
});
export type UpstreamApi = Static<typeof UpstreamApi>;

export const ResumeStrategy = Type.Enum(RESUME_STRATEGIES, {
  default: DEFAULTS.resume,
  description: 'What to do after a stream fails once content reached the client.',
});
export type ResumeStrategy = Static<typeof ResumeStrategy>;

export const FallbackCondition = Type.Enum(FALLBACK_CONDITIONS);
export type FallbackCondition = Static<typeof FallbackCondition>;

export const SecretValue = Type.Union(
  [
    Type.Object({ env: Type.String({ minLength: 1, description: 'Name of an environment variable.' }) }, closed),
    Type.Object({ value: Type.String({ minLength: 1, description: 'The key itself (pushed by the operator).' }) }, closed),
  ],
  { description: 'Where the API key comes from.' },
);
export type SecretValue = Static<typeof SecretValue>;

const StringMap = Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' } });

export const DemoOptions = Type.Object(
  {
    tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: DEFAULTS.demo.tokens, description: 'Tokens per answer.' })),
    tokensPerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100000, default: DEFAULTS.demo.tokensPerSecond })),
  },
  closed,
);

/** The five thresholds of a breaker; `d` gives their advertised defaults (none for an override,
 *  whose missing fields come from its backend, not from the global defaults). */
const circuitThresholds = (d?: (typeof DEFAULTS)['circuit' | 'hostCircuit']) => ({
  consecutiveFailures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, ...(d ? { default: d.consecutiveFailures } : {}) })),
  failureRatePercent: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, ...(d ? { default: d.failureRatePercent } : {}) })),
  minimumRequests: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, ...(d ? { default: d.minimumRequests } : {}) })),
  windowMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3600000, ...(d ? { default: d.windowMs } : {}) })),
  cooldownMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 3600000, ...(d ? { default: d.cooldownMs } : {}) })),
});

/** One deployment's breaker (a backend x upstream model): set per backend, overridden per route target. */
export const CircuitOverride = Type.Object(circuitThresholds(), {
  ...closed,
  description: "This deployment's circuit (the backend's, with these fields changed). Every target naming the same backend and model shares one circuit: give it once, or the same everywhere.",
});

export const CircuitPolicy = Type.Object(
  {
    ...circuitThresholds(DEFAULTS.circuit),
    host: Type.Optional(
      Type.Object(circuitThresholds(DEFAULTS.hostCircuit), {
        ...closed,
        description: 'The coarser breaker for the host itself: counts only failures of the host (connection refused, DNS, TLS, reset before any response), across every model; any response closes it.',
      }),
    ),
  },
  {
    ...closed,
    description:
      'Per deployment (this backend x each upstream model): open after N consecutive failures or a failure rate over the window; probe after the cool-down. One model\'s failures never block another model on this backend; only the host breaker (`host`) does.',
  },
);

export const Backend = Type.Object(
  {
    name: Type.String({ pattern: NAME_PATTERN, maxLength: 63 }),
    type: BackendType,
    baseURL: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'Defaults to the provider\'s public endpoint.' })),
    apiKey: Type.Optional(SecretValue),
    apiVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'azure-openai api-version.' })),
    prefill: Type.Optional(Type.Boolean({ description: 'Override whether this backend accepts an assistant prefix.' })),
    api: Type.Optional(UpstreamApi),
    headers: Type.Optional(StringMap),
    circuit: Type.Optional(CircuitPolicy),
    demo: Type.Optional(DemoOptions),
  },
  closed,
);
export type Backend = Static<typeof Backend>;

export const RouteTarget = Type.Object(
  {
    backend: Type.String({ minLength: 1, maxLength: 63 }),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Model name sent upstream; defaults to the route\'s.' })),
    priority: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Lower runs first; defaults to the position.' })),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000, default: DEFAULTS.weight, description: 'Share among targets of equal priority.' })),
    circuit: Type.Optional(CircuitOverride),
  },
  closed,
);
export type RouteTarget = Static<typeof RouteTarget>;

export const RetryPolicy = Type.Object(
  {
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: DEFAULTS.retry.attempts, description: 'Attempts per target, the first included.' })),
    backoff: Type.Optional(
      Type.Object(
        {
          baseMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000, default: DEFAULTS.retry.baseMs })),
          maxMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600000, default: DEFAULTS.retry.maxMs })),
        },
        closed,
      ),
    ),
    honorRetryAfter: Type.Optional(Type.Boolean({ default: DEFAULTS.retry.honorRetryAfter })),
    budgetPercent: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 100, default: DEFAULTS.retry.budgetPercent, description: 'Retries allowed as a share of requests per deployment (backend x model).' }),
    ),
    onTimeout: Type.Optional(
      Type.Enum(TIMEOUT_CHOICES, {
        default: DEFAULTS.retry.onTimeout,
        description:
          'A silent target (no response headers, or no first token, within firstTokenMs): `next` moves on to the next target after the first timeout; `retry` spends this target\'s attempts on it first.',
      }),
    ),
  },
  closed,
);

export const Timeouts = Type.Object(
  {
    connectMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 600000, default: DEFAULTS.timeouts.connectMs })),
    firstTokenMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600000, default: DEFAULTS.timeouts.firstTokenMs })),
    idleMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600000, default: DEFAULTS.timeouts.idleMs })),
    totalMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400000, default: DEFAULTS.timeouts.totalMs })),
  },
  closed,
);

export const Route = Type.Object(
  {
    model: Type.String({ minLength: 1, maxLength: 256, description: 'The model name the app sends.' }),
    backends: Type.Array(RouteTarget, { minItems: 1, maxItems: 32 }),
    retry: Type.Optional(RetryPolicy),
    timeouts: Type.Optional(Timeouts),
    resume: Type.Optional(ResumeStrategy),
    fallbackOn: Type.Optional(Type.Array(FallbackCondition, { maxItems: FALLBACK_CONDITIONS.length })),
  },
  closed,
);
export type Route = Static<typeof Route>;

export const JournalConfig = Type.Object(
  {
    type: Type.Optional(Type.Enum(['memory', 'redis'], { default: 'memory' })),
    url: Type.Optional(Type.String({ minLength: 1 })),
    keyPrefix: Type.Optional(Type.String({ default: DEFAULTS.journal.keyPrefix })),
    retention: Type.Optional(
      Type.Object(
        {
          maxRequests: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000, default: DEFAULTS.journal.maxRequests })),
          maxEventsPerRequest: Type.Optional(Type.Integer({ minimum: 16, maximum: 1000000, default: DEFAULTS.journal.maxEventsPerRequest })),
          maxBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 17179869184, default: DEFAULTS.journal.maxBytes })),
          ttlMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 604800000, default: DEFAULTS.journal.ttlMs })),
        },
        closed,
      ),
    ),
  },
  closed,
);

/** What only a sidecar document carries about its journal store: the Redis password (resolved
 *  like an API key) and the owner lease. Kept out of JournalConfig, which the AIRoute embeds as
 *  is: there a password would be a secretKeyRef, the operator's to resolve and push as {value}. */
export const SidecarJournalConfig = Type.Object(
  {
    ...JournalConfig.properties,
    password: Type.Optional(
      Type.Union(SecretValue.anyOf, { description: 'Redis password (AUTH), from the environment or pushed by the operator; only with type redis. Never in the URL.' }),
    ),
    ownerLeaseMs: Type.Optional(
      Type.Integer({
        minimum: 1000,
        maximum: 600000,
        default: DEFAULTS.journal.ownerLeaseMs,
        description: 'Redis: how long after a sidecar\'s last heartbeat its unfinished requests may be ended by another one (failed, reason sidecar_restarted).',
      }),
    ),
  },
  closed,
);

export const WebhookConfig = Type.Object(
  {
    allow: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), {
        maxItems: 256,
        description: 'Destinations callbacks may go to: http(s) URLs whose scheme, host and port must match exactly and whose path must start with the same whole segments.',
      }),
    ),
    privateNetworks: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        maxItems: 64,
        description: 'Private, loopback or link-local networks (CIDR, e.g. 10.0.0.0/8) callbacks may reach; any other such address is refused, whatever its name.',
      }),
    ),
    secret: Type.Optional(SecretValue),
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: DEFAULTS.webhooks.attempts })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120000, default: DEFAULTS.webhooks.timeoutMs })),
    awaitTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 86400000, default: DEFAULTS.webhooks.awaitTimeoutMs })),
  },
  closed,
);

/** A host name as a Host header carries it (no port): DNS labels, optionally a trailing dot. */
const HOST_NAME_PATTERN = '^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\\.?$';

export const CorsConfig = Type.Object(
  {
    allowOrigins: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 2048 }), {
        maxItems: 256,
        description: 'Browser origins (scheme://host[:port]) that may call the data port; a request with any other Origin gets 403. The demo page is same-origin and needs none.',
      }),
    ),
    allowHosts: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: HOST_NAME_PATTERN }), {
        maxItems: 256,
        description: 'Host names the data port answers to besides loopback names and IP addresses (a page that rebinds its own DNS name to 127.0.0.1 sends that name, and gets 403).',
      }),
    ),
  },
  { ...closed, description: 'Browser-origin policy of the data port.' },
);

export const SidecarConfig = Type.Object(
  {
    backends: Type.Array(Backend, { minItems: 1, maxItems: 256 }),
    routes: Type.Array(Route, { minItems: 1, maxItems: 1024 }),
    limits: Type.Optional(
      Type.Object(
        {
          maxBodyBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1073741824, default: DEFAULTS.maxBodyBytes })),
          maxResponseBytes: Type.Optional(
            Type.Integer({
              minimum: 65536,
              maximum: 1073741824,
              default: DEFAULTS.maxResponseBytes,
              description: 'The largest answer the sidecar holds whole: a non-streamed answer it translates between formats, an async result. Past it the request fails (response_too_large). Same-format answers stream through whatever their size.',
            }),
          ),
          maxCheckpointChars: Type.Optional(
            Type.Integer({
              minimum: 1024,
              maximum: 268435456,
              default: DEFAULTS.maxCheckpointChars,
              description: 'Characters of delivered text a stream keeps for a resume (prefill/verify). Past it resume is disabled for that request, and a checkpoint event says so.',
            }),
          ),
        },
        closed,
      ),
    ),
    async: Type.Optional(
      Type.Object(
        {
          maxInFlight: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, default: DEFAULTS.asyncMaxInFlight })),
          maxStoredBytes: Type.Optional(
            Type.Integer({
              minimum: 1048576,
              maximum: 17179869184,
              default: DEFAULTS.asyncMaxStoredBytes,
              description: 'Bytes of finished async results kept in memory (the memory store); past it the oldest finished requests are dropped (410).',
            }),
          ),
        },
        closed,
      ),
    ),
    journal: Type.Optional(SidecarJournalConfig),
    webhooks: Type.Optional(WebhookConfig),
    cors: Type.Optional(CorsConfig),
  },
  { ...closed, description: 'airoute sidecar configuration.' },
);
export type SidecarConfig = Static<typeof SidecarConfig>;

/** The admin port's PUT /config body. */
export const ConfigPush = Type.Object(
  {
    // A safe integer: past 2^53-1 doubles stop being distinct, so a version such as 1.8e308 would
    // pass as "newer" once and then make every later push look stale until a restart.
    version: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    config: SidecarConfig,
    /** The AIRoute the document was compiled from, so the sidecar's metrics can say which one it runs. */
    source: Type.Optional(Type.Object({ namespace: Type.String({ minLength: 1, maxLength: 253 }), name: Type.String({ minLength: 1, maxLength: 253 }) }, closed)),
  },
  closed,
);
export type ConfigPush = Static<typeof ConfigPush>;
