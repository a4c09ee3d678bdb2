// The AIRoute resource (airoute.dev/v1alpha1): the sidecar config vocabulary from config.ts plus
// a pod selector, with API keys as Secret references. This file is the one source of the
// TypeScript types, the operator's runtime checks and (through scripts/gen-crds.ts) the CRD's
// structural OpenAPI schema, CEL rules included. No I/O.
import Type, { type Static } from 'typebox';
import {
  Backend,
  BACKEND_TYPES,
  DEFAULTS,
  FALLBACK_CONDITIONS,
  FallbackCondition,
  JournalConfig,
  PREFILL_BY_DEFAULT,
  Route,
  RouteTarget,
  SidecarConfig,
  WebhookConfig,
} from './config.ts';

export const GROUP = 'airoute.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'AIRoute';
export const PLURAL = 'airoutes';
export const SINGULAR = 'airoute';
export const SHORT_NAMES = ['air'] as const;

/** Bounds tighter than the sidecar's own, so every CEL rule below stays well inside the API
 *  server's static cost budget (it multiplies nested list sizes: the rules that match
 *  routes[].backends[] against spec.backends cost about routes × targets × backends × 50).
 *  test/operator/crd.test.ts prints each rule's estimated cost and fails above half the limit;
 *  a route with more is a standalone config file's job. */
export const MAX_BACKENDS = 32;
export const MAX_ROUTES = 128;
export const MAX_ROUTE_TARGETS = 16;
export const MAX_HEADERS = 32;

const closed = { additionalProperties: false } as const;

/** A CEL rule as the API server takes it (x-kubernetes-validations). */
export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** Relative JSONPath the error is reported at, so the message names the field. */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

const cel = (rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });
/** A list whose items are unique by these keys: the API server enforces it for free (no O(n²) CEL). */
const listMap = (...keys: string[]) => ({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': keys }) as const;
const listSet = { 'x-kubernetes-list-type': 'set' } as const;

/** A Secret's name (a DNS-1123 subdomain: no slash, so never another namespace's) and a data key. */
export const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const SECRET_KEY = '^[-._a-zA-Z0-9]+$';

export const SecretKeyRef = Type.Object(
  {
    secretKeyRef: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN, description: 'Secret in the AIRoute\'s namespace.' }),
        key: Type.String({ minLength: 1, maxLength: 253, pattern: SECRET_KEY, description: 'Key in the Secret\'s data.' }),
      },
      closed,
    ),
  },
  { ...closed, description: 'Where the value comes from: a key of a Secret in the same namespace.' },
);
export type SecretKeyRef = Static<typeof SecretKeyRef>;

/** Backend types that continue an assistant prefix unless `prefill: false` says otherwise (from config.ts's table, for the CEL rule below). */
export const PREFILL_TYPES = BACKEND_TYPES.filter((t) => PREFILL_BY_DEFAULT[t]);

/** An absolute http(s) URL without credentials in it (they would end up in logs and status). */
export const HTTP_URL = '^https?://[^\\s/?#@]+([/?#]\\S*)?$';
/** RFC 9110 field-name (a token), and a field value without CR, LF or NUL (header injection). */
const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
const HEADER_VALUE = '^[^\\r\\n\\x00]*$';

export const HeaderMap = Type.Unsafe<Record<string, string>>({
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 4096, pattern: HEADER_VALUE },
  maxProperties: MAX_HEADERS,
  description: 'Extra request headers sent to the backend.',
  ...cel([{ rule: `self.all(k, size(k) <= 256 && k.matches(${JSON.stringify(HEADER_NAME)}))`, message: 'header names must be HTTP tokens of at most 256 characters' }]),
});

export const AIRouteBackend = Type.Object(
  {
    ...Backend.properties,
    baseURL: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: HTTP_URL, description: 'http(s) URL; defaults to the provider\'s public endpoint.' })),
    headers: Type.Optional(HeaderMap),
    apiKey: Type.Optional(SecretKeyRef),
  },
  { ...closed, description: 'A provider endpoint; the same fields as the sidecar config, the key from a Secret.' },
);
export type AIRouteBackend = Static<typeof AIRouteBackend>;

/** Route as in the sidecar config, except resume has no schema default: left out, the sidecar uses
 *  prefill where the backend can and verify elsewhere; written out, `prefill` is a promise the
 *  CEL rule below checks. */
const { resume: _resume, ...routeProps } = Route.properties;
export const AIRouteRoute = Type.Object(
  {
    ...routeProps,
    backends: Type.Array(RouteTarget, { minItems: 1, maxItems: MAX_ROUTE_TARGETS }),
    resume: Type.Optional(Type.Enum(['none', 'prefill', 'verify'], { description: 'What to do after a stream fails once content reached the client. Unset: prefill where the backend supports it, verify elsewhere.' })),
    fallbackOn: Type.Optional(Type.Array(FallbackCondition, { maxItems: FALLBACK_CONDITIONS.length, ...listSet })),
  },
  closed,
);
export type AIRouteRoute = Static<typeof AIRouteRoute>;

export const LabelSelectorRequirement = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 317 }),
    operator: Type.Enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
    values: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 64 })),
  },
  {
    ...closed,
    ...cel([
      {
        rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
        message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
        fieldPath: '.values',
      },
    ]),
  },
);

export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string', maxLength: 63 }, maxProperties: 64 })),
    matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement, { maxItems: 32 })),
  },
  { ...closed, description: 'Pods in this namespace whose sidecar runs this route. An empty selector selects every injected pod.' },
);
export type LabelSelector = Static<typeof LabelSelector>;

/** The journal as an AIRoute says it: the Redis password from a Secret of the AIRoute's own
 *  namespace (so no credential is shared between tenants' namespaces), bounded strings. */
export const AIRouteJournal = Type.Object(
  {
    ...JournalConfig.properties,
    url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, pattern: '^rediss?://([^\\s:/?#@]+@)?[^\\s/?#@]+(/[0-9]+)?$', description: 'redis://[user@]host[:port][/db] or rediss:// (TLS); never a password in it.' })),
    keyPrefix: Type.Optional(Type.String({ maxLength: 128, pattern: '^\\S*$', default: DEFAULTS.journal.keyPrefix })),
    password: Type.Optional(SecretKeyRef),
  },
  closed,
);

export const AIRouteWebhooks = Type.Object(
  {
    ...WebhookConfig.properties,
    allow: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 2048, pattern: HTTP_URL }), { maxItems: 32, ...listSet, description: 'Destinations callbacks may go to: http(s) URLs whose scheme, host and port must match exactly and whose path must start with the same whole segments.' })),
    secret: Type.Optional(SecretKeyRef),
  },
  closed,
);

const backendCanPrefill = (b: string) => `(has(${b}.prefill) ? ${b}.prefill : ${b}.type in ${JSON.stringify(PREFILL_TYPES).replace(/"/g, "'")})`;

export const AIRouteSpec = Type.Object(
  {
    podSelector: LabelSelector,
    backends: Type.Array(AIRouteBackend, { minItems: 1, maxItems: MAX_BACKENDS, ...listMap('name') }),
    routes: Type.Array(AIRouteRoute, { minItems: 1, maxItems: MAX_ROUTES, ...listMap('model') }),
    limits: Type.Optional(SidecarConfig.properties.limits),
    async: Type.Optional(SidecarConfig.properties.async),
    journal: Type.Optional(AIRouteJournal),
    webhooks: Type.Optional(AIRouteWebhooks),
    cors: Type.Optional(SidecarConfig.properties.cors),
  },
  {
    ...closed,
    ...cel([
      {
        rule: 'self.routes.all(r, r.backends.all(t, self.backends.exists(b, b.name == t.backend)))',
        message: 'every routes[].backends[].backend must name a backend declared in spec.backends',
        fieldPath: '.routes',
      },
      {
        rule:
          "self.routes.all(r, !has(r.resume) || r.resume != 'prefill' || (has(r.fallbackOn) && 'prefill_rejected' in r.fallbackOn) || " +
          `r.backends.all(t, self.backends.exists(b, b.name == t.backend && ${backendCanPrefill('b')})))`,
        message:
          'resume: prefill needs every backend of the route to accept an assistant prefix (anthropic, openai-compatible, demo, or prefill: true), or fallbackOn to include prefill_rejected',
        fieldPath: '.routes',
      },
      {
        rule: "self.backends.all(b, !(b.type in ['openai-compatible', 'azure-openai']) || has(b.baseURL))",
        message: 'baseURL is required for backends of type openai-compatible and azure-openai',
        fieldPath: '.backends',
        reason: 'FieldValueRequired',
      },
      {
        rule: "self.backends.all(b, !has(b.demo) || b.type == 'demo')",
        message: 'demo options are only valid for backends of type demo',
        fieldPath: '.backends',
      },
      {
        rule: "self.backends.all(b, !has(b.apiVersion) || b.type == 'azure-openai')",
        message: 'apiVersion is only valid for backends of type azure-openai',
        fieldPath: '.backends',
      },
    ]),
  },
);
export type AIRouteSpec = Static<typeof AIRouteSpec>;

/** CEL rules on parts of the sidecar vocabulary; attached by the CRD generator at these paths
 *  (inside spec) so config.ts stays free of Kubernetes concerns. */
export const NESTED_RULES: Record<string, CelRule[]> = {
  'routes[].retry.backoff': [
    { rule: '!has(self.baseMs) || !has(self.maxMs) || self.baseMs <= self.maxMs', message: 'baseMs must not exceed maxMs', fieldPath: '.baseMs' },
  ],
  'routes[]': [
    {
      rule: 'self.backends.exists(t, !has(t.weight) || t.weight > 0)',
      message: 'at least one backend of a route needs a weight above 0',
      fieldPath: '.backends',
    },
  ],
  'journal': [
    { rule: "!has(self.type) || self.type != 'redis' || has(self.url)", message: 'url is required when type is redis', fieldPath: '.url', reason: 'FieldValueRequired' },
    { rule: "!has(self.password) || (has(self.type) && self.type == 'redis')", message: 'password is only valid with type redis', fieldPath: '.password' },
  ],
};

export const CONDITION_TYPES = ['Accepted', 'ResolvedRefs', 'Synced', 'Progressing', 'Ready', 'Conflict'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** metav1.Condition, as the API conventions define it. */
export const Condition = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 316, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$' }),
    status: Type.Enum(['True', 'False', 'Unknown']),
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
    lastTransitionTime: Type.String({ format: 'date-time' }),
    reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
    message: Type.String({ maxLength: 32768 }),
  },
  closed,
);
export type Condition = Static<typeof Condition>;

export const AIRouteStatus = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
    conditions: Type.Optional(Type.Array(Condition, { maxItems: 16, ...listMap('type') })),
    configVersion: Type.Optional(Type.Integer({ minimum: 0, description: 'Version of the config document; only ever increases.' })),
    configHash: Type.Optional(Type.String({ maxLength: 128, description: 'Content hash of the config document (sha256).' })),
    targetPods: Type.Optional(Type.Integer({ minimum: 0, description: 'Selected pods with an airoute sidecar.' })),
    syncedPods: Type.Optional(Type.Integer({ minimum: 0, description: 'Selected pods whose sidecar runs configVersion.' })),
    syncedRatio: Type.Optional(Type.String({ maxLength: 32, description: 'syncedPods/targetPods, for kubectl get.' })),
  },
  closed,
);
export type AIRouteStatus = Static<typeof AIRouteStatus>;

/** Object metadata as the operator reads it (a subset; the API server owns the rest). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface AIRoute {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: AIRouteSpec;
  status?: AIRouteStatus;
}

/** The schema the CRD is generated from: spec and status; metadata is the API server's. */
export const AIRouteSchemaRoot = Type.Object(
  {
    apiVersion: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    metadata: Type.Optional(Type.Object({})),
    spec: AIRouteSpec,
    status: Type.Optional(AIRouteStatus),
  },
  { description: 'AIRoute routes the LLM traffic of the selected pods\' airoute sidecars: backends, routes, retries, fallback, timeouts.' },
);

export const PRINTER_COLUMNS = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Synced', type: 'string', jsonPath: '.status.syncedRatio', description: 'syncedPods/targetPods' },
  { name: 'Version', type: 'integer', jsonPath: '.status.configVersion' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;
