// The AIRoute resource (airoute.dev/v1alpha1): the sidecar config vocabulary from config.ts plus
// a pod selector, with API keys as Secret references. This file is the one source of the
// TypeScript types, the operator's runtime checks and (through scripts/gen-crds.ts) the CRD's
// structural OpenAPI schema, CEL rules included. No I/O.
import Type, { type Static } from 'typebox';
import {
  Backend,
  JournalConfig,
  Route,
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

/** Bounds tighter than the sidecar's own so the CEL rules below stay inside the API server's
 *  static cost budget (it multiplies nested list sizes); a route with more is a config file's job. */
export const MAX_BACKENDS = 64;
export const MAX_ROUTES = 128;

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

export const SecretKeyRef = Type.Object(
  {
    secretKeyRef: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 253, description: 'Secret in the AIRoute\'s namespace.' }),
        key: Type.String({ minLength: 1, maxLength: 253, description: 'Key in the Secret\'s data.' }),
      },
      closed,
    ),
  },
  { ...closed, description: 'Where the value comes from: a key of a Secret in the same namespace.' },
);
export type SecretKeyRef = Static<typeof SecretKeyRef>;

/** Backend types whose adapter continues an assistant prefix unless `prefill: false` says otherwise
 *  (sidecar/providers/*: capabilities). Kept here because the CEL rule below needs it. */
export const PREFILL_BY_DEFAULT = ['anthropic', 'openai-compatible', 'demo'] as const;

export const AIRouteBackend = Type.Object(
  { ...Backend.properties, apiKey: Type.Optional(SecretKeyRef) },
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
    resume: Type.Optional(Type.Enum(['none', 'prefill', 'verify'], { description: 'What to do after a stream fails once content reached the client. Unset: prefill where the backend supports it, verify elsewhere.' })),
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

const backendCanPrefill = (b: string) => `(has(${b}.prefill) ? ${b}.prefill : ${b}.type in ${JSON.stringify([...PREFILL_BY_DEFAULT]).replace(/"/g, "'")})`;

export const AIRouteSpec = Type.Object(
  {
    podSelector: LabelSelector,
    backends: Type.Array(AIRouteBackend, { minItems: 1, maxItems: MAX_BACKENDS }),
    routes: Type.Array(AIRouteRoute, { minItems: 1, maxItems: MAX_ROUTES }),
    limits: Type.Optional(SidecarConfig.properties.limits),
    async: Type.Optional(SidecarConfig.properties.async),
    journal: Type.Optional(JournalConfig),
    webhooks: Type.Optional(Type.Object({ ...WebhookConfig.properties, secret: Type.Optional(SecretKeyRef) }, closed)),
    cors: Type.Optional(SidecarConfig.properties.cors),
  },
  {
    ...closed,
    ...cel([
      {
        rule: 'self.backends.all(b, self.backends.exists_one(c, c.name == b.name))',
        message: 'backend names must be unique',
        fieldPath: '.backends',
        reason: 'FieldValueDuplicate',
      },
      {
        rule: 'self.routes.all(r, self.routes.exists_one(s, s.model == r.model))',
        message: 'route model names must be unique',
        fieldPath: '.routes',
        reason: 'FieldValueDuplicate',
      },
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
  'journal': [{ rule: "!has(self.type) || self.type != 'redis' || has(self.url)", message: 'url is required when type is redis', fieldPath: '.url', reason: 'FieldValueRequired' }],
};

export const CONDITION_TYPES = ['Accepted', 'ResolvedRefs', 'Synced', 'Ready', 'Conflict'] as const;
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
    conditions: Type.Optional(Type.Array(Condition, { maxItems: 16 })),
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
