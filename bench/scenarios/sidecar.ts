// The sidecar `npm run bench` measures: its config (the routes every scenario uses) and its
// variants (the same routes with something switched, each run as a sidecar process of its own).

/**
 * Sidecar variants: the same routes with something switched. A variant is a config patch and/or
 * extra CLI arguments or environment; `ctx.startVariant` runs it as a separate sidecar process.
 * Metrics on/off needs a switch in the sidecar first (see bench/README.md).
 */
export interface Variant {
  name: string;
  /** Top-level config keys merged into the document. */
  config?: Record<string, unknown>;
  args?: string[];
  env?: Record<string, string>;
}

export const VARIANTS = {
  default: { name: 'default' },
  /**
   * The journal cannot be switched off; this keeps finished requests for 1 s instead of 15 min
   * (the schema's minimum), so it holds little more than the requests in flight. (Smaller
   * maxRequests/maxBytes make it evict in-flight requests on every event, which is no baseline.)
   */
  journalMin: { name: 'journal 1 s', config: { journal: { retention: { ttlMs: 1000 } } } },
} satisfies Record<string, Variant>;

/**
 * The sidecar config. The performance scenarios use backend `up`; each fault scenario route has a
 * backend of its own, so that circuit and retry-budget state never leaks between systems.
 */
export function sidecarConfig(upstreamOrigin: string, keyEnv: string, variant: Variant = VARIANTS.default): Record<string, unknown> {
  const baseURL = `${upstreamOrigin}/v1`;
  const backend = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'openai-compatible', baseURL, apiKey: { env: keyEnv }, ...extra });
  // Short backoff so that the fault scenario stays short; the other retry settings are the defaults.
  const fast = { attempts: 3, backoff: { baseMs: 10, maxMs: 100 } };
  const relaxed = { circuit: { consecutiveFailures: 1000, failureRatePercent: 100, minimumRequests: 100000 } };
  return {
    backends: [backend('up'), backend('upf-none'), backend('upf-prefill'), backend('upf-relaxed', relaxed)],
    routes: [
      { model: 'bench', backends: [{ backend: 'up', model: 'm' }] },
      { model: 'bench-none', backends: [{ backend: 'up', model: 'm' }], resume: 'none' },
      { model: 'bench-prefill', backends: [{ backend: 'up', model: 'm' }], resume: 'prefill' },
      { model: 'faults-none', backends: [{ backend: 'upf-none', model: 'm' }], resume: 'none', retry: fast },
      { model: 'faults-prefill', backends: [{ backend: 'upf-prefill', model: 'm' }], resume: 'prefill', retry: fast },
      { model: 'faults-prefill-relaxed', backends: [{ backend: 'upf-relaxed', model: 'm' }], resume: 'prefill', retry: fast },
    ],
    ...variant.config,
  };
}
