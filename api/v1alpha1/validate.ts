// The one validator both components run: the operator before it pushes, the sidecar before it
// swaps. The schema check is TypeBox's compiled one, generated ahead of time without typebox in it
// (generated/check-config.ts), so a process whose documents are valid never loads the schema library
// (~13 MiB of resident memory, for as long as a sidecar runs); only a refused document loads it, to
// say which field is wrong and why (schema-errors.ts). The cross-field rules a JSON Schema cannot
// say (references, uniqueness, orderings) are checked here by hand.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { ConfigPush, SidecarConfig } from './config.ts';
import { API_CHOICE_TYPES } from './constants.ts';
import { checkConfigPush, checkSidecarConfig } from './generated/check-config.ts';
import type { ConfigIssue } from './issues.ts';

export { formatIssue, pointerToPath, type ConfigIssue } from './issues.ts';

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ConfigIssue[] };

/**
 * TypeBox's error walk, loaded the first time a document fails the generated check. With require(),
 * not import(): validation stays synchronous for its callers (the operator's pure plan, the
 * sidecar's check-then-swap), and Node 24 loads an ES module graph without top-level await
 * synchronously. The module is this file's sibling: .ts run from source, .js once compiled.
 */
function schemaErrors(): typeof import('./schema-errors.ts') {
  const ext = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
  return createRequire(import.meta.url)(`./schema-errors${ext}`) as typeof import('./schema-errors.ts');
}

const NEEDS_BASE_URL = new Set(['openai-compatible', 'azure-openai']);

/** Rules that span fields; run only on a document that passed the schema. */
export function crossFieldIssues(config: SidecarConfig, base = ''): ConfigIssue[] {
  const at = (p: string) => (base ? `${base}.${p}` : p);
  const issues: ConfigIssue[] = [];
  const backends = new Map<string, number>();
  config.backends.forEach((b, i) => {
    if (backends.has(b.name)) issues.push({ path: at(`backends[${i}].name`), message: `duplicate backend name "${b.name}"` });
    backends.set(b.name, i);
    if (b.baseURL === undefined && NEEDS_BASE_URL.has(b.type))
      issues.push({ path: at(`backends[${i}].baseURL`), message: `required for type ${b.type}` });
    if (b.baseURL !== undefined && !isHttpUrl(b.baseURL))
      issues.push({ path: at(`backends[${i}].baseURL`), message: `must be an http(s) URL, got "${b.baseURL}"` });
    if (b.demo !== undefined && b.type !== 'demo')
      issues.push({ path: at(`backends[${i}].demo`), message: 'only valid for type demo' });
    if (b.apiVersion !== undefined && b.type !== 'azure-openai')
      issues.push({ path: at(`backends[${i}].apiVersion`), message: 'only valid for type azure-openai' });
    if (b.api !== undefined && !(API_CHOICE_TYPES as readonly string[]).includes(b.type))
      issues.push({ path: at(`backends[${i}].api`), message: `only valid for types ${API_CHOICE_TYPES.join(', ')}` });
  });
  const routes = new Set<string>();
  /** A deployment (backend x upstream model) has one circuit: the first override given for it, and where. */
  const overrides = new Map<string, { json: string; path: string }>();
  config.routes.forEach((r, i) => {
    r.backends.forEach((t, j) => {
      if (!t.circuit) return;
      const key = JSON.stringify([t.backend, t.model ?? r.model]);
      const json = canonicalJson(t.circuit);
      const path = at(`routes[${i}].backends[${j}].circuit`);
      const first = overrides.get(key);
      if (!first) overrides.set(key, { json, path });
      else if (first.json !== json)
        issues.push({ path, message: `backend "${t.backend}" model "${t.model ?? r.model}" already has other circuit settings at ${first.path}; one deployment has one circuit` });
    });
  });
  config.routes.forEach((r, i) => {
    if (routes.has(r.model)) issues.push({ path: at(`routes[${i}].model`), message: `duplicate route "${r.model}"` });
    routes.add(r.model);
    r.backends.forEach((t, j) => {
      if (!backends.has(t.backend))
        issues.push({ path: at(`routes[${i}].backends[${j}].backend`), message: `unknown backend "${t.backend}"` });
    });
    const base = r.retry?.backoff?.baseMs;
    const max = r.retry?.backoff?.maxMs;
    if (base !== undefined && max !== undefined && base > max)
      issues.push({ path: at(`routes[${i}].retry.backoff.baseMs`), message: `must not exceed maxMs (${base} > ${max})` });
    const byPriority = new Map<number, number>();
    r.backends.forEach((t, j) => {
      const p = t.priority ?? j;
      byPriority.set(p, (byPriority.get(p) ?? 0) + (t.weight ?? 1));
    });
    for (const [p, total] of byPriority)
      if (total === 0) issues.push({ path: at(`routes[${i}].backends`), message: `every target of priority ${p} has weight 0` });
  });
  if (config.journal?.type === 'redis' && !config.journal.url)
    issues.push({ path: at('journal.url'), message: 'required when journal.type is redis' });
  if (config.journal) issues.push(...journalIssues(config.journal, at));
  config.webhooks?.allow?.forEach((u, i) => {
    if (!isPlainHttpUrl(u)) issues.push({ path: at(`webhooks.allow[${i}]`), message: `must be an http(s) URL without credentials, query or fragment, got "${u}"` });
  });
  config.webhooks?.privateNetworks?.forEach((n, i) => {
    if (!isCidr(n)) issues.push({ path: at(`webhooks.privateNetworks[${i}]`), message: `must be an IP address or a CIDR such as 10.0.0.0/8, got "${n}"` });
  });
  config.cors?.allowOrigins?.forEach((o, i) => {
    if (!isOrigin(o)) issues.push({ path: at(`cors.allowOrigins[${i}]`), message: `must be an origin, scheme://host[:port] with no path, got "${o}"` });
  });
  return issues;
}

/** The Redis journal's fields: a redis(s):// URL without a password in it, and Redis-only fields only with Redis. */
function journalIssues(j: NonNullable<SidecarConfig['journal']>, at: (p: string) => string): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const redis = j.type === 'redis';
  if (j.url !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(j.url);
    } catch {
      // reported below
    }
    if (!u || (u.protocol !== 'redis:' && u.protocol !== 'rediss:'))
      issues.push({ path: at('journal.url'), message: `must be a redis:// or rediss:// (TLS) URL, got "${u ? `${u.protocol}//...` : j.url}"` });
    // the document is pushed, logged and shown: the password must come from journal.password, not the URL
    else if (u.password) issues.push({ path: at('journal.url'), message: 'must not carry a password: use journal.password ({env: NAME} or, pushed by the operator from a Secret, {value})' });
    else if (u.pathname.length > 1 && !/^\/\d+$/.test(u.pathname)) issues.push({ path: at('journal.url'), message: `the path must be a database number, got "${u.pathname}"` });
  }
  if (!redis && j.password !== undefined) issues.push({ path: at('journal.password'), message: 'only valid when journal.type is redis' });
  if (!redis && j.ownerLeaseMs !== undefined) issues.push({ path: at('journal.ownerLeaseMs'), message: 'only valid when journal.type is redis' });
  return issues;
}

/** An http(s) origin as a browser sends it in an Origin header (a trailing slash is tolerated). */
function isOrigin(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s.replace(/\/$/, '').toLowerCase();
  } catch {
    return false;
  }
}

function isPlainHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}

function isCidr(s: string): boolean {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(s);
  if (!m) return false;
  const family = isIP(m[1]!);
  return family !== 0 && (m[2] === undefined || Number(m[2]) <= (family === 4 ? 32 : 128));
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export function validateConfig(doc: unknown, base = ''): Validated<SidecarConfig> {
  if (!checkSidecarConfig(doc)) return { ok: false, issues: schemaErrors().configSchemaIssues(doc, base) };
  const issues = crossFieldIssues(doc, base);
  return issues.length ? { ok: false, issues } : { ok: true, value: doc };
}

export function validatePush(doc: unknown): Validated<ConfigPush> {
  if (!checkConfigPush(doc)) return { ok: false, issues: schemaErrors().pushSchemaIssues(doc) };
  const issues = crossFieldIssues(doc.config, 'config');
  return issues.length ? { ok: false, issues } : { ok: true, value: doc };
}

/** JSON with sorted keys: the same document always hashes the same, whoever serialised it. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The content hash both sides report: operator in status, sidecar on GET /config. */
export function configHash(config: SidecarConfig): string {
  return 'sha256:' + createHash('sha256').update(canonicalJson(config)).digest('hex');
}
