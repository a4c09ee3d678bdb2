// Compiles an AIRoute spec and the Secrets it references into the sidecar config document, and
// checks the result with the very validator the sidecar runs before it swaps (validate.ts).
// Pure: Secrets come in as already-decoded data.
import type { AIRouteSpec, SecretKeyRef } from '../../api/v1alpha1/airoute.ts';
import type { SecretValue, SidecarConfig } from '../../api/v1alpha1/config.ts';
import { withSecretRefs, type SecretRef } from '../../api/v1alpha1/snapshot.ts';
import { configHash, validateConfig, type ConfigIssue } from '../../api/v1alpha1/validate.ts';
import { redact } from '../redact.ts';

/** Secret name → decoded data (key → value), for the secrets of one namespace. */
export type SecretsView = ReadonlyMap<string, Readonly<Record<string, string>>>;

export interface CompileResult {
  /** The document, when the spec is valid and every reference resolved. */
  config?: SidecarConfig;
  hash?: string;
  /** The snapshot form of `config` (secretKeyRefs where it has values), for the ConfigMap. */
  snapshot?: unknown;
  /** Spec problems (Accepted=False), paths from `spec.`. */
  invalid: ConfigIssue[];
  /** Unresolved Secret references (ResolvedRefs=False), paths from `spec.`. */
  unresolved: ConfigIssue[];
  /** Every secret value used, so messages derived from this document can be scrubbed. */
  secrets: string[];
}

/** Stands in for a key that did not resolve, so the rest of the spec can still be validated. */
const PLACEHOLDER = 'unresolved-secret-placeholder';

export function referencedSecrets(spec: AIRouteSpec): string[] {
  const names = new Set<string>();
  for (const b of spec.backends ?? []) if (b.apiKey) names.add(b.apiKey.secretKeyRef.name);
  if (spec.webhooks?.secret) names.add(spec.webhooks.secret.secretKeyRef.name);
  if (spec.journal?.password) names.add(spec.journal.password.secretKeyRef.name);
  return [...names];
}

/** Every (Secret, key) the spec refers to: what an injected sidecar gets mounted, so it can put the
 *  values back into its config snapshot. */
export function referencedSecretKeys(spec: AIRouteSpec): SecretRef[] {
  const refs = [...(spec.backends ?? []).map((b) => b.apiKey), spec.webhooks?.secret, spec.journal?.password].filter((r) => r !== undefined).map((r) => r.secretKeyRef);
  const seen = new Set<string>();
  return refs.filter((r) => !seen.has(`${r.name}/${r.key}`) && seen.add(`${r.name}/${r.key}`)).map((r) => ({ name: r.name, key: r.key }));
}

/** Operator-wide settings for what an AIRoute leaves out (the journal store, without credentials). */
export interface ConfigDefaults {
  journal?: SidecarConfig['journal'];
}

export function compileRoute(spec: AIRouteSpec, secrets: SecretsView, defaults: ConfigDefaults = {}): CompileResult {
  const unresolved: ConfigIssue[] = [];
  const used: string[] = [];
  const refs = new Map<string, SecretRef>();
  const resolve = (ref: SecretKeyRef, path: string): SecretValue => {
    const { name, key } = ref.secretKeyRef;
    refs.set(path, { name, key });
    const data = secrets.get(name);
    const at = `spec.${path}.secretKeyRef`;
    if (!data) unresolved.push({ path: at, message: `Secret "${name}" not found` });
    else if (!Object.hasOwn(data, key)) unresolved.push({ path: at, message: `Secret "${name}" has no key "${key}"` });
    else {
      // Keys are never meant to carry whitespace; a trailing newline from `--from-file` would
      // otherwise end up in an Authorization header.
      const value = data[key]!.trim();
      if (value) {
        used.push(value);
        return { value };
      }
      unresolved.push({ path: at, message: `key "${key}" of Secret "${name}" is empty` });
    }
    return { value: PLACEHOLDER };
  };
  const { podSelector: _selector, backends, routes, webhooks, journal, ...rest } = spec;
  const config: SidecarConfig = {
    ...structuredClone(rest),
    ...(journal
      ? {
          journal: (() => {
            const { password, ...j } = journal;
            return { ...structuredClone(j), ...(password ? { password: resolve(password, 'journal.password') } : {}) };
          })(),
        }
      : {}),
    backends: (backends ?? []).map((b, i) => {
      const { apiKey, ...plain } = b;
      return { ...structuredClone(plain), ...(apiKey ? { apiKey: resolve(apiKey, `backends[${i}].apiKey`) } : {}) };
    }),
    routes: structuredClone(routes ?? []),
    ...(webhooks
      ? {
          webhooks: (() => {
            const { secret, ...w } = webhooks;
            return { ...structuredClone(w), ...(secret ? { secret: resolve(secret, 'webhooks.secret') } : {}) };
          })(),
        }
      : {}),
  };
  if (!config.journal && defaults.journal) config.journal = structuredClone(defaults.journal);
  const v = validateConfig(config, 'spec');
  const invalid = v.ok ? [] : v.issues.map((i) => ({ path: i.path, message: redact(i.message, used) }));
  if (invalid.length || unresolved.length) return { invalid, unresolved, secrets: used };
  const snapshot = withSecretRefs(config, refs);
  return { config, hash: configHash(config), snapshot, invalid, unresolved, secrets: used };
}
