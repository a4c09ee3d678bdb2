// The config's plain values: its defaults and the closed word lists its schema (config.ts) is
// built from. Kept apart from the schema so that what the sidecar reads on its data path (defaults,
// which backend types prefill, the fallback conditions) does not load the schema library: typebox
// costs a sidecar ~13 MiB of resident memory for as long as it runs, and a sidecar that loaded a
// valid config never needs it (validate.ts). No imports, by design.

/** Defaults, in one place: the schema advertises them (and the API server applies them to
 *  an AIRoute); the sidecar's compile step applies them to a standalone file. */
export const DEFAULTS = {
  demo: { tokens: 48, tokensPerSecond: 25 },
  circuit: { consecutiveFailures: 5, failureRatePercent: 50, minimumRequests: 20, windowMs: 30000, cooldownMs: 15000 },
  // The host itself (connection refused, DNS, TLS, reset before any response): such failures are
  // unambiguous and cheap to probe, so a shorter cool-down; any response from any model closes it.
  hostCircuit: { consecutiveFailures: 5, failureRatePercent: 50, minimumRequests: 20, windowMs: 30000, cooldownMs: 5000 },
  retry: { attempts: 3, baseMs: 100, maxMs: 5000, honorRetryAfter: true, budgetPercent: 20, onTimeout: 'next' },
  timeouts: { connectMs: 2000, firstTokenMs: 30000, idleMs: 15000, totalMs: 300000 },
  resume: 'prefill',
  weight: 1,
  maxBodyBytes: 10 * 1024 * 1024,
  // What the sidecar holds of one answer, at most: a non-streamed answer it must translate or keep
  // as an async result, and the delivered text a resume needs. Sized with the journal and the
  // async store below so that a sidecar stays inside the 256Mi the operator injects (README: memory).
  maxResponseBytes: 8 * 1024 * 1024,
  maxCheckpointChars: 1024 * 1024,
  asyncMaxInFlight: 256,
  asyncMaxStoredBytes: 16 * 1024 * 1024,
  // A few thousand recent requests, 10 minutes, within the memory budget README's security model adds up.
  journal: { keyPrefix: 'airoute:', maxRequests: 4096, maxEventsPerRequest: 20000, maxBytes: 32 * 1024 * 1024, ttlMs: 10 * 60 * 1000, ownerLeaseMs: 10000 },
  webhooks: { attempts: 5, timeoutMs: 10000, awaitTimeoutMs: 60000 },
} as const;

/** A DNS-1123 label: backend names appear in metric labels and Kubernetes names. */
export const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

export const BACKEND_TYPES = ['openai', 'openai-compatible', 'azure-openai', 'anthropic', 'gemini', 'demo'] as const;

/**
 * Whether a backend type continues an assistant prefix (resume: prefill) unless the backend's
 * `prefill` says otherwise: the one table the adapters' capabilities and the CRD's CEL rule read.
 * OpenAI's and Azure's chat models answer a trailing assistant message instead of continuing it,
 * and Gemini has no prefix at all; Claude, vLLM/SGLang-style servers and the demo continue it.
 */
export const PREFILL_BY_DEFAULT: Readonly<Record<(typeof BACKEND_TYPES)[number], boolean>> = {
  openai: false,
  'openai-compatible': true,
  'azure-openai': false,
  anthropic: true,
  gemini: false,
  demo: true,
};

/** Which of OpenAI's two client APIs an OpenAI-family upstream serves. */
export const UPSTREAM_APIS = ['chat-completions', 'responses', 'both'] as const;
/** Backend types that take `api` (the others have one API each). */
export const API_CHOICE_TYPES = ['openai', 'azure-openai', 'openai-compatible'] as const;

export const RESUME_STRATEGIES = ['none', 'prefill', 'verify'] as const;

/** Failure classes that move a request to the next backend of its chain. */
export const FALLBACK_CONDITIONS = [
  'retries_exhausted', // a retriable failure (429, 5xx, timeout, connect) survived every retry
  'auth', // 401/403: this backend's key is wrong; another backend has another key
  'model_not_found', // 404 model: this backend does not serve the mapped model
  'context_length', // the prompt is too long for this model; a larger one may take it
  'circuit_open', // the backend is known to be down
  'prefill_rejected', // the backend refused the assistant prefix during a resume
] as const;

/** What a first-token timeout does: move on at once, or retry the same target. */
export const TIMEOUT_CHOICES = ['next', 'retry'] as const;
export type TimeoutChoice = (typeof TIMEOUT_CHOICES)[number];
