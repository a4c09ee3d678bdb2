// The config snapshot: what the operator leaves in the cluster so a sidecar can start without it.
// Per AIRoute, the document it pushes, except that every secret value is replaced by the
// secretKeyRef it came from: the snapshot lives in a ConfigMap (`airoute-config`, one key per
// AIRoute) and never holds a key; the injected sidecar has the referenced Secrets mounted and puts
// the values back (resolveSecretRefs) before it validates and hashes the document, so it runs, and
// reports, exactly what the operator would have pushed. Pure: no I/O.
import type { SidecarConfig } from './config.ts';

/** One ConfigMap per namespace, one key per AIRoute: RBAC can then limit the operator's updates to
 *  this one name. */
export const SNAPSHOT_CONFIGMAP = 'airoute-config';
export const snapshotKey = (route: string) => `${route}.json`;

export interface SecretRef {
  name: string;
  key: string;
}

export interface ConfigSnapshot {
  version: number;
  source: { namespace: string; name: string };
  /** The sidecar config with `{secretKeyRef: {name, key}}` where the pushed one has `{value}`. */
  config: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Dotted paths with indices (`backends[0].apiKey`), as compile records where it resolved a key. */
function setAt(root: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let node: unknown = root;
  for (const p of parts.slice(0, -1)) node = (node as Record<string, unknown>)[p];
  if (!isObject(node) && !Array.isArray(node)) throw new Error(`no such path in the config: ${path}`);
  (node as Record<string, unknown>)[parts.at(-1)!] = value;
}

/** The snapshot form of a compiled config: each resolved secret back to its reference. */
export function withSecretRefs(config: SidecarConfig, refs: ReadonlyMap<string, SecretRef>): unknown {
  const out = structuredClone(config) as unknown as Record<string, unknown>;
  for (const [path, ref] of refs) setAt(out, path, { secretKeyRef: { name: ref.name, key: ref.key } });
  return out;
}

const asRef = (v: unknown): SecretRef | undefined => {
  if (!isObject(v) || Object.keys(v).length !== 1 || !isObject(v.secretKeyRef)) return undefined;
  const { name, key } = v.secretKeyRef;
  return typeof name === 'string' && typeof key === 'string' ? { name, key } : undefined;
};

/** Puts the secret values back: every `{secretKeyRef}` object becomes `{value}` (trimmed, as the
 *  operator trims). References that cannot be read are listed and left as they are (the document
 *  then fails validation, naming them). */
export function resolveSecretRefs(config: unknown, read: (ref: SecretRef) => string | undefined): { config: unknown; missing: SecretRef[] } {
  const missing: SecretRef[] = [];
  const walk = (v: unknown): unknown => {
    const ref = asRef(v);
    if (ref) {
      const value = read(ref)?.trim();
      if (value) return { value };
      missing.push(ref);
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { config: walk(config), missing };
}
