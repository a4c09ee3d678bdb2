// A protocol-faithful stand-in for the Kubernetes API server, for tests where there is no cluster.
// The real operator talks to it through the real @kubernetes/client-node over HTTP on 127.0.0.1.
//
// What it does as the real one does (and tests rely on):
//  - list with a list resourceVersion; label and field (metadata.name/namespace) selectors;
//  - watch from a resourceVersion (replay from history), from "" / "0" (synthetic ADDED for the
//    current state), selector transitions as ADDED/DELETED, BOOKMARK events when
//    allowWatchBookmarks=true, server-side timeoutSeconds, and `410 Gone` as an in-stream ERROR
//    event (Status reason Expired) when the revision is compacted, then the stream ends;
//  - create/update/patch/delete with uid, creationTimestamp, generation (custom resources: bumped
//    on spec change only) and resourceVersion; optimistic concurrency (409 Conflict on a stale
//    metadata.resourceVersion; custom resources require one on update);
//  - the status subresource: the main resource ignores status, /status changes only status;
//  - merge patch and JSON patch (strategic merge only for built-in types, as merge; custom
//    resources answer 415 as the real server does);
//  - CRDs are checked as on create (crd-validation.ts): each CEL rule's estimated cost against the
//    per-rule and per-CRD limits, list-type map keys; a CRD the real server would refuse is refused;
//  - admission of custom resources against the CRD's structural schema: pruning (or 400 under
//    fieldValidation=Strict, with the real "strict decoding error"), defaulting, OpenAPI
//    constraints, list-type set/map uniqueness and the x-kubernetes-validations CEL rules, errors
//    as a 422 Status with causes;
//  - Secrets' stringData folded into data; Lease MicroTime fields must carry microseconds;
//  - bearer-token authentication (401 Unauthorized).
//  - paged lists (limit/continue, 410 for a compacted continue token);
//  - TokenRequest for bound ServiceAccount tokens and TokenReview of them (tokens.ts);
// Not modelled: finalizers, server-side apply, admission webhooks, RBAC.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { CustomResourceDefinition, StructuralSchema } from '../../operator/crd/generate.ts';
import { checkCrd } from './crd-validation.ts';
import { admit, type FieldError, type Json, type JsonObject } from './schema.ts';
import { matchesLabelSelector, parseLabelSelector, type Requirement } from './selectors.ts';
import { objectKey, Store, type StoredEvent } from './store.ts';
import { TokenAuthority } from './tokens.ts';

export interface ResourceType {
  group: string; // '' for core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Custom resource: the CRD's schema applies and generation tracks spec changes. */
  schema?: StructuralSchema;
  statusSubresource: boolean;
}

const CORE: ResourceType[] = [
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, statusSubresource: true },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true, statusSubresource: false },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, statusSubresource: false },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, statusSubresource: false },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, statusSubresource: true },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, statusSubresource: false },
  { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', kind: 'MutatingWebhookConfiguration', namespaced: false, statusSubresource: false },
];

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly causes: FieldError[];
  readonly details: JsonObject;
  constructor(code: number, reason: string, message: string, opts: { causes?: FieldError[]; details?: JsonObject } = {}) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.causes = opts.causes ?? [];
    this.details = opts.details ?? {};
  }
  status(): JsonObject {
    const details: JsonObject = { ...this.details };
    if (this.causes.length) details.causes = this.causes.map((c) => ({ reason: c.reason, message: c.message.slice(c.field.length + 2), field: c.field }));
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, details, code: this.code };
  }
}

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const rfc3339 = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const meta = (o: JsonObject) => (o.metadata ?? {}) as JsonObject;
const str = (v: Json | undefined) => (typeof v === 'string' ? v : undefined);

export interface AuditRecord {
  verb: 'list' | 'watch' | 'get' | 'create' | 'update' | 'patch' | 'delete';
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** For lists: the page size asked for (undefined: no limit, the whole collection at once). */
  limit?: number;
  /** For lists and watches: the selectors, as sent. */
  fieldSelector?: string;
  labelSelector?: string;
  code: number;
}

export interface StandInOptions {
  /** Bearer token clients must present. */
  token?: string;
  /** How often a watch with allowWatchBookmarks gets a BOOKMARK. */
  bookmarkIntervalMs?: number;
  /** Server-side end of a watch when the client asks for no timeoutSeconds (real: 30-60 min). */
  watchTimeoutMs?: number;
  /** CRD manifests to serve (default: the generated crds/ files). */
  crds?: CustomResourceDefinition[];
  historyLimit?: number;
}

type Fault = (r: { verb: AuditRecord['verb']; resource: string; subresource?: string }) => number | undefined;

export class StandInApiServer {
  readonly store: Store;
  readonly audit: AuditRecord[] = [];
  readonly tokens = new TokenAuthority();
  private readonly types = new Map<string, ResourceType>();
  private readonly opts: Required<Omit<StandInOptions, 'crds' | 'historyLimit'>>;
  private server?: Server;
  /** Open watches, each with the function that ends it cleanly. */
  private readonly openWatches = new Map<ServerResponse, () => void>();
  private faults: Fault[] = [];
  url = '';

  constructor(crds: CustomResourceDefinition[], opts: StandInOptions = {}) {
    this.store = new Store(opts.historyLimit);
    this.opts = { token: opts.token ?? 'stand-in-token', bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000, watchTimeoutMs: opts.watchTimeoutMs ?? 5 * 60_000 };
    for (const t of CORE) this.types.set(t.plural, t);
    for (const crd of crds) {
      // What `kubectl apply` / `helm install` of the CRD would meet first: its static validation.
      const { errors } = checkCrd(crd);
      if (errors.length)
        throw new ApiError(422, 'Invalid', `CustomResourceDefinition.apiextensions.k8s.io "${crd.metadata.name}" is invalid: ${errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`}`);
      const v = crd.spec.versions.find((x) => x.served && x.storage)!;
      this.types.set(crd.spec.names.plural, {
        group: crd.spec.group,
        version: v.name,
        plural: crd.spec.names.plural,
        kind: crd.spec.names.kind,
        namespaced: crd.spec.scope === 'Namespaced',
        schema: v.schema.openAPIV3Schema,
        statusSubresource: v.subresources?.status !== undefined,
      });
    }
  }

  /** Starts a server with the generated CRDs from crds/. */
  static async start(opts: StandInOptions = {}): Promise<StandInApiServer> {
    const crds = opts.crds ?? [await loadCrd(fileURLToPath(new URL('../../crds/airoute.dev_airoutes.yaml', import.meta.url)))];
    const s = new StandInApiServer(crds, opts);
    await s.listen();
    return s;
  }

  private listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message);
        if (!res.headersSent) this.sendStatus(res, e);
        else res.end();
      });
    });
    return new Promise((resolve) => {
      this.server!.listen(0, '127.0.0.1', () => {
        this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const end of [...this.openWatches.values()]) end();
    await new Promise<void>((r) => {
      this.server?.close(() => r());
      this.server?.closeAllConnections();
    });
  }

  kubeConfig(token = this.opts.token): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'stand-in', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'operator', token }],
      contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'operator', namespace: 'default' }],
      currentContext: 'stand-in',
    });
    return kc;
  }

  /** Ends every open watch (as an API server restart or a load balancer would). */
  dropWatches(): void {
    for (const end of [...this.openWatches.values()]) end();
  }

  /** Answers matching requests with this HTTP status until the returned function is called. */
  injectFault(fault: Fault): () => void {
    this.faults.push(fault);
    return () => {
      this.faults = this.faults.filter((f) => f !== fault);
    };
  }

  resourceType(plural: string): ResourceType {
    const t = this.types.get(plural);
    if (!t) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    return t;
  }

  private qualified(t: ResourceType) {
    return t.group ? `${t.plural}.${t.group}` : t.plural;
  }

  private apiVersion(t: ResourceType) {
    return t.group ? `${t.group}/${t.version}` : t.version;
  }

  // ---------------------------------------------------------------- programmatic API (tests, fake kubelet)

  get(plural: string, namespace: string | undefined, name: string): JsonObject | undefined {
    const o = this.store.get(plural, objectKey(namespace, name));
    return o ? structuredClone(o) : undefined;
  }

  list(plural: string, namespace?: string): JsonObject[] {
    return this.store.list(plural).filter((o) => namespace === undefined || meta(o).namespace === namespace).map((o) => structuredClone(o));
  }

  create(plural: string, obj: JsonObject, opts: { fieldValidation?: string; namespace?: string } = {}): JsonObject {
    return this.doCreate(this.resourceType(plural), opts.namespace ?? str(meta(obj).namespace), structuredClone(obj), opts.fieldValidation).object;
  }

  /** Replaces an object (or its status) as PUT does; without a resourceVersion it takes the latest. */
  update(plural: string, obj: JsonObject, opts: { subresource?: 'status'; fieldValidation?: string } = {}): JsonObject {
    const t = this.resourceType(plural);
    const m = meta(obj);
    const body = structuredClone(obj);
    if (!meta(body).resourceVersion) {
      const cur = this.store.get(plural, objectKey(str(m.namespace), str(m.name)!));
      if (cur) (body.metadata as JsonObject).resourceVersion = meta(cur).resourceVersion!;
    }
    return this.doUpdate(t, str(m.namespace), str(m.name)!, body, opts.subresource, opts.fieldValidation).object;
  }

  delete(plural: string, namespace: string | undefined, name: string): void {
    this.doDelete(this.resourceType(plural), namespace, name);
  }

  /** Resolves once `predicate` holds for the object (checked now and on every change). */
  waitFor(plural: string, namespace: string | undefined, name: string, predicate: (o: JsonObject | undefined) => boolean, timeoutMs = 10_000): Promise<JsonObject | undefined> {
    const key = objectKey(namespace, name);
    return new Promise((resolve, reject) => {
      const check = () => {
        const o = this.store.get(plural, key);
        if (predicate(o)) {
          done();
          resolve(o ? structuredClone(o) : undefined);
        }
      };
      const unsubscribe = this.store.subscribe(plural, check);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs}ms waiting for ${plural} ${key}: ${JSON.stringify(this.store.get(plural, key)?.status ?? null)}`));
      }, timeoutMs);
      const done = () => {
        unsubscribe();
        clearTimeout(timer);
      };
      check();
    });
  }

  // ---------------------------------------------------------------- HTTP

  private sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private sendStatus(res: ServerResponse, e: ApiError): void {
    this.sendJson(res, e.code, e.status());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${this.opts.token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
    if (req.method === 'GET') {
      const discovery = this.discovery(url.pathname);
      if (discovery) return this.sendJson(res, 200, discovery);
    }
    if (req.method === 'POST' && (await this.authentication(req, res, url.pathname))) return;
    const route = this.route(url.pathname);
    if (!route) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const { t, namespace, name, subresource } = route;
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const verb: AuditRecord['verb'] =
      method === 'GET' ? (name ? 'get' : q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : 'list') : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : 'delete';
    const limit = verb === 'list' && q.get('limit') ? Number(q.get('limit')) : undefined;
    const selectors = verb === 'list' || verb === 'watch' ? { ...(q.get('fieldSelector') ? { fieldSelector: q.get('fieldSelector')! } : {}), ...(q.get('labelSelector') ? { labelSelector: q.get('labelSelector')! } : {}) } : {};
    const record = (code: number) =>
      this.audit.push({ verb, resource: t.plural, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}), ...(subresource ? { subresource } : {}), ...(limit ? { limit } : {}), ...selectors, code });
    for (const f of this.faults) {
      const code = f({ verb, resource: t.plural, ...(subresource ? { subresource } : {}) });
      if (code) {
        record(code);
        throw new ApiError(code, code === 410 ? 'Expired' : 'InternalError', `injected fault (${code})`);
      }
    }
    try {
      if (subresource && subresource !== 'status') throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${subresource})`);
      if (subresource === 'status' && !t.statusSubresource) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
      let result: { code: number; object: JsonObject; warnings?: string[] };
      switch (verb) {
        case 'watch':
          record(200);
          return this.watch(req, res, t, namespace, q);
        case 'list':
          result = { code: 200, object: this.doList(t, namespace, q) };
          break;
        case 'get': {
          const o = this.store.get(t.plural, objectKey(namespace, name!));
          if (!o) throw this.notFound(t, name!);
          result = { code: 200, object: this.present(t, o) };
          break;
        }
        case 'create':
          if (name) throw new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
          result = this.doCreate(t, namespace, await readJson(req), q.get('fieldValidation') ?? undefined);
          break;
        case 'update':
          result = this.doUpdate(t, namespace, name!, await readJson(req), subresource, q.get('fieldValidation') ?? undefined);
          break;
        case 'patch':
          result = this.doPatch(t, namespace, name!, await readJson(req, true), req.headers['content-type'] ?? '', subresource, q.get('fieldValidation') ?? undefined);
          break;
        case 'delete':
          result = { code: 200, object: this.doDelete(t, namespace, name!) };
          break;
      }
      record(result.code);
      const headers: Record<string, string> = {};
      if (result.warnings?.length) headers.warning = result.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
      this.sendJson(res, result.code, result.object, headers);
    } catch (err) {
      if (err instanceof ApiError) record(err.code);
      throw err;
    }
  }

  /** Legacy discovery (APIResourceList per group/version), what clients use to map kind → resource. */
  private discovery(path: string): JsonObject | undefined {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/?$/.exec(path);
    if (!m) return undefined;
    const group = m[1] ? '' : m[2]!;
    const version = m[1] ?? m[3]!;
    const types = [...this.types.values()].filter((t) => t.group === group && t.version === version);
    if (!types.length) return undefined;
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: types.flatMap((t) => [
        { name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs },
        ...(t.statusSubresource ? [{ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] }] : []),
      ]),
    };
  }

  private route(path: string): { t: ResourceType; namespace?: string; name?: string; subresource?: string } | undefined {
    const parts = path.split('/').filter(Boolean);
    let rest: string[];
    if (parts[0] === 'api' && parts[1] === 'v1') rest = parts.slice(2);
    else if (parts[0] === 'apis' && parts.length >= 3) rest = parts.slice(3);
    else return undefined;
    const group = parts[0] === 'api' ? '' : parts[1]!;
    const version = parts[0] === 'api' ? 'v1' : parts[2]!;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const t = this.types.get(rest[0] ?? '');
    if (!t || t.group !== group || t.version !== version) return undefined;
    if (namespace && !t.namespaced) return undefined;
    return { t, ...(namespace ? { namespace } : {}), ...(rest[1] ? { name: rest[1] } : {}), ...(rest[2] ? { subresource: rest[2] } : {}) };
  }

  /** Issues a bound ServiceAccount token (what the kubelet does for a projected token volume). */
  issueToken(t: { namespace: string; serviceAccount: string; audiences: string[]; expirationSeconds: number; pod?: { name: string; uid: string } }): string {
    return this.tokens.issue({ namespace: t.namespace, serviceAccount: t.serviceAccount, audiences: t.audiences, expiresAt: Date.now() + t.expirationSeconds * 1000, ...(t.pod ? { pod: t.pod } : {}) });
  }

  /** TokenRequest (serviceaccounts/<name>/token) and TokenReview; true when it answered. */
  private async authentication(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const request = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/.exec(path);
    const podUid = (namespace: string, name: string) => str(meta(this.store.get('pods', objectKey(namespace, name)) ?? {}).uid);
    if (request) {
      const [, namespace, sa] = request as unknown as [string, string, string];
      const body = await readJson(req);
      const spec = (body.spec ?? {}) as JsonObject;
      const bound = spec.boundObjectRef as JsonObject | undefined;
      if (bound && (bound.kind !== 'Pod' || podUid(namespace, str(bound.name) ?? '') !== bound.uid))
        throw new ApiError(404, 'NotFound', `pods "${str(bound.name)}" not found`);
      const expirationSeconds = Number(spec.expirationSeconds ?? 3600);
      const token = this.issueToken({ namespace, serviceAccount: sa, audiences: (spec.audiences as string[] | undefined) ?? ['https://kubernetes.default.svc.cluster.local'], expirationSeconds, ...(bound ? { pod: { name: str(bound.name)!, uid: str(bound.uid)! } } : {}) });
      this.audit.push({ verb: 'create', resource: 'serviceaccounts', namespace, name: sa, subresource: 'token', code: 201 });
      this.sendJson(res, 201, { kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: { name: sa, namespace }, spec, status: { token, expirationTimestamp: rfc3339(new Date(Date.now() + expirationSeconds * 1000)) } });
      return true;
    }
    if (path === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const body = await readJson(req);
      const spec = (body.spec ?? {}) as JsonObject;
      const status = this.tokens.review(str(spec.token) ?? '', spec.audiences as string[] | undefined, podUid);
      this.audit.push({ verb: 'create', resource: 'tokenreviews', code: 201 });
      this.sendJson(res, 201, { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status });
      return true;
    }
    return false;
  }

  private notFound(t: ResourceType, name: string) {
    return new ApiError(404, 'NotFound', `${this.qualified(t)} "${name}" not found`, { details: { name, group: t.group, kind: t.plural } });
  }

  private conflict(t: ResourceType, name: string) {
    return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${this.qualified(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, {
      details: { name, group: t.group, kind: t.plural },
    });
  }

  /** Lists omit apiVersion/kind on items of built-in types, as the real server's lists do. */
  private present(t: ResourceType, o: JsonObject, inList = false): JsonObject {
    const c = structuredClone(o);
    if (inList && !t.schema) {
      delete c.apiVersion;
      delete c.kind;
    } else {
      c.apiVersion = this.apiVersion(t);
      c.kind = t.kind;
    }
    return c;
  }

  private selection(t: ResourceType, namespace: string | undefined, q: URLSearchParams): (o: JsonObject) => boolean {
    const labels: Requirement[] = parseLabelSelector(q.get('labelSelector') ?? '');
    const fields = (q.get('fieldSelector') ?? '')
      .split(',')
      .filter(Boolean)
      .map((f) => {
        const m = /^([\w.]+)(==|=|!=)(.*)$/.exec(f);
        if (!m) throw new ApiError(400, 'BadRequest', `invalid field selector: ${f}`);
        if (m[1] !== 'metadata.name' && m[1] !== 'metadata.namespace') throw new ApiError(400, 'BadRequest', `field label not supported: ${m[1]}`);
        return { field: m[1].slice('metadata.'.length), negate: m[2] === '!=', value: m[3]! };
      });
    return (o) => {
      const m = meta(o);
      if (namespace !== undefined && t.namespaced && m.namespace !== namespace) return false;
      if (!matchesLabelSelector(labels, (m.labels as Record<string, string> | undefined) ?? {})) return false;
      return fields.every((f) => (m[f.field] === f.value) !== f.negate);
    };
  }

  /** A list, paged as the API server pages it: `limit` items per page in key order, a `continue`
   *  token for the rest, every page carrying the first page's resourceVersion; a token older than
   *  the compaction floor is 410 Expired. (The real server serves later pages from the first page's
   *  snapshot; here they show the objects as they are now, which an informer's watch from that
   *  resourceVersion makes right either way.) */
  private doList(t: ResourceType, namespace: string | undefined, q: URLSearchParams): JsonObject {
    const match = this.selection(t, namespace, q);
    const key = (o: JsonObject) => objectKey(str(meta(o).namespace), str(meta(o).name)!);
    const all = this.store.list(t.plural).filter(match).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    let rv = String(this.store.currentRv());
    let rest = all;
    const token = q.get('continue');
    if (token) {
      let c: { rv: string; after: string };
      try {
        c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv: string; after: string };
      } catch {
        throw new ApiError(400, 'BadRequest', 'continue key is not valid: illegal base64 data');
      }
      if (Number(c.rv) < this.store.oldestWatchableRv())
        throw new ApiError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      rv = c.rv;
      rest = all.filter((o) => key(o) > c.after);
    }
    const limit = Number(q.get('limit') ?? '0');
    const page = limit > 0 ? rest.slice(0, limit) : rest;
    const more = page.length < rest.length;
    const metadata: JsonObject = { resourceVersion: rv };
    if (more) {
      metadata.continue = Buffer.from(JSON.stringify({ rv, after: key(page.at(-1)!) })).toString('base64url');
      metadata.remainingItemCount = rest.length - page.length;
    }
    return { kind: `${t.kind}List`, apiVersion: this.apiVersion(t), metadata, items: page.map((o) => this.present(t, o, true)) };
  }

  private watch(req: IncomingMessage, res: ServerResponse, t: ResourceType, namespace: string | undefined, q: URLSearchParams): void {
    const match = this.selection(t, namespace, q);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const send = (type: string, object: JsonObject) => {
      if (!res.writableEnded) res.write(JSON.stringify({ type, object }) + '\n');
    };
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe = () => {};
    const end = () => {
      if (res.writableEnded) return;
      unsubscribe();
      for (const x of timers) clearTimeout(x), clearInterval(x);
      this.openWatches.delete(res);
      res.end();
    };
    this.openWatches.set(res, end);
    req.on('close', end);
    const deliver = (ev: StoredEvent) => {
      const now = match(ev.object);
      const before = ev.previous ? match(ev.previous) : false;
      if (ev.type === 'ADDED' && now) send('ADDED', this.present(t, ev.object));
      else if (ev.type === 'DELETED' && now) send('DELETED', this.present(t, ev.object));
      else if (ev.type === 'MODIFIED') {
        if (now && before) send('MODIFIED', this.present(t, ev.object));
        else if (now) send('ADDED', this.present(t, ev.object));
        else if (before) {
          // Left the selection: a DELETED of the last state the watcher could see, at the new revision.
          const gone = this.present(t, ev.previous!);
          (gone.metadata as JsonObject).resourceVersion = String(ev.rv);
          send('DELETED', gone);
        }
      }
    };
    const rvParam = q.get('resourceVersion') ?? '';
    if (rvParam === '' || rvParam === '0') {
      for (const o of this.store.list(t.plural)) if (match(o)) send('ADDED', this.present(t, o));
    } else {
      const from = Number(rvParam);
      const replay = Number.isFinite(from) ? this.store.since(t.plural, from) : undefined;
      if (!replay) {
        send('ERROR', new ApiError(410, 'Expired', `too old resource version: ${rvParam} (${this.store.oldestWatchableRv()})`).status());
        end();
        return;
      }
      for (const ev of replay) deliver(ev);
    }
    unsubscribe = this.store.subscribe(t.plural, deliver);
    if (q.get('allowWatchBookmarks') === 'true') {
      timers.push(
        setInterval(() => {
          send('BOOKMARK', { kind: t.kind, apiVersion: this.apiVersion(t), metadata: { resourceVersion: String(this.store.currentRv()) } });
        }, this.opts.bookmarkIntervalMs),
      );
    }
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '');
    timers.push(setTimeout(end, timeoutSeconds > 0 ? timeoutSeconds * 1000 : this.opts.watchTimeoutMs));
  }

  private admitCustom(t: ResourceType, obj: JsonObject, parts: readonly string[], fieldValidation: string | undefined): string[] {
    if (!t.schema) return [];
    const name = str(meta(obj).name) ?? '';
    const { errors, unknownFields } = admit(obj, t.schema, parts);
    if (unknownFields.length && fieldValidation === 'Strict')
      throw new ApiError(400, 'BadRequest', `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`);
    if (errors.length) {
      const lines = errors.map((e) => e.message);
      throw new ApiError(422, 'Invalid', `${t.kind}.${t.group} "${name}" is invalid: ${lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`}`, {
        causes: errors,
        details: { name, group: t.group, kind: t.kind },
      });
    }
    return fieldValidation === 'Ignore' ? [] : unknownFields.map((f) => `unknown field "${f}"`);
  }

  private validateBuiltin(t: ResourceType, obj: JsonObject): void {
    if (t.plural === 'leases') {
      const spec = (obj.spec ?? {}) as JsonObject;
      for (const f of ['acquireTime', 'renewTime'] as const) {
        const v = spec[f];
        if (v !== undefined && v !== null && (typeof v !== 'string' || !MICRO_TIME.test(v)))
          throw new ApiError(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`);
      }
    }
    if (t.plural === 'secrets' && isObject(obj.stringData)) {
      const data = (isObject(obj.data) ? obj.data : {}) as JsonObject;
      for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
      obj.data = data;
      delete obj.stringData;
    }
    if (t.plural === 'events') {
      const involved = (obj.involvedObject ?? {}) as JsonObject;
      if (involved.namespace !== undefined && involved.namespace !== meta(obj).namespace)
        throw new ApiError(422, 'Invalid', `Event "${str(meta(obj).name)}" is invalid: involvedObject.namespace: Invalid value: ${JSON.stringify(involved.namespace)}: does not match event.namespace`);
    }
  }

  private doCreate(t: ResourceType, namespace: string | undefined, obj: JsonObject, fieldValidation?: string): { code: number; object: JsonObject; warnings?: string[] } {
    if (!isObject(obj)) throw new ApiError(400, 'BadRequest', 'the body of the request was not a JSON object');
    const m = meta(obj);
    if (t.namespaced) {
      if (m.namespace !== undefined && m.namespace !== namespace)
        throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      if (!namespace) throw new ApiError(400, 'BadRequest', 'a namespace is required');
    }
    let name = str(m.name);
    if (!name && str(m.generateName)) name = `${str(m.generateName)}${randomBytes(3).toString('hex').slice(0, 5)}`;
    if (!name) throw new ApiError(422, 'Invalid', `${t.kind} "" is invalid: metadata.name: Required value: name or generateName is required`);
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253)
      throw new ApiError(422, 'Invalid', `${t.kind}${t.group ? '.' + t.group : ''} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
    const key = objectKey(t.namespaced ? namespace : undefined, name);
    if (this.store.get(t.plural, key)) throw new ApiError(409, 'AlreadyExists', `${this.qualified(t)} "${name}" already exists`, { details: { name, group: t.group, kind: t.plural } });
    // The status stanza is the controller's; a create through the main resource drops it.
    if (t.statusSubresource && t.schema) delete obj.status;
    obj.metadata = { ...m, name, ...(t.namespaced ? { namespace: namespace! } : {}), uid: randomUUID(), creationTimestamp: rfc3339(), ...(t.schema ? { generation: 1 } : {}) };
    delete (obj.metadata as JsonObject).resourceVersion;
    delete (obj.metadata as JsonObject).generateName;
    obj.apiVersion = this.apiVersion(t);
    obj.kind = t.kind;
    const warnings = this.admitCustom(t, obj, ['spec'], fieldValidation);
    this.validateBuiltin(t, obj);
    return { code: 201, object: this.present(t, this.store.commit(t.plural, key, 'ADDED', obj)), warnings };
  }

  private doUpdate(t: ResourceType, namespace: string | undefined, name: string, body: JsonObject, subresource: string | undefined, fieldValidation?: string): { code: number; object: JsonObject; warnings?: string[] } {
    if (!isObject(body)) throw new ApiError(400, 'BadRequest', 'the body of the request was not a JSON object');
    const key = objectKey(t.namespaced ? namespace : undefined, name);
    const cur = this.store.get(t.plural, key);
    if (!cur) throw this.notFound(t, name);
    const m = meta(body);
    if (m.name !== undefined && m.name !== name) throw new ApiError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    const rv = str(m.resourceVersion);
    if (!rv && t.schema)
      throw new ApiError(422, 'Invalid', `${t.kind}.${t.group} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
    if (rv && rv !== meta(cur).resourceVersion) throw this.conflict(t, name);
    let next: JsonObject;
    let warnings: string[] = [];
    if (subresource === 'status') {
      // Only status changes through /status; everything else stays as stored.
      next = { ...structuredClone(cur), status: body.status ?? null };
      if (next.status === null) delete next.status;
      warnings = this.admitCustom(t, next, ['status'], fieldValidation);
    } else {
      next = structuredClone(body);
      const keepMeta = meta(cur);
      next.metadata = { ...m, name, ...(t.namespaced ? { namespace: namespace! } : {}), uid: keepMeta.uid!, creationTimestamp: keepMeta.creationTimestamp!, ...(keepMeta.generation !== undefined ? { generation: keepMeta.generation } : {}) };
      if (t.statusSubresource) {
        if (cur.status !== undefined) next.status = structuredClone(cur.status);
        else delete next.status;
      }
      next.apiVersion = this.apiVersion(t);
      next.kind = t.kind;
      warnings = this.admitCustom(t, next, ['spec'], fieldValidation);
      this.validateBuiltin(t, next);
      if (t.schema && JSON.stringify(withoutMetaStatus(next)) !== JSON.stringify(withoutMetaStatus(cur)))
        (next.metadata as JsonObject).generation = Number(keepMeta.generation ?? 1) + 1;
    }
    // A no-op write does not bump resourceVersion (the real server skips unchanged writes).
    if (JSON.stringify(stripRv(next)) === JSON.stringify(stripRv(cur))) return { code: 200, object: this.present(t, cur), warnings };
    return { code: 200, object: this.present(t, this.store.commit(t.plural, key, 'MODIFIED', next)), warnings };
  }

  private doPatch(t: ResourceType, namespace: string | undefined, name: string, patch: Json, contentType: string, subresource: string | undefined, fieldValidation?: string) {
    const key = objectKey(t.namespaced ? namespace : undefined, name);
    const cur = this.store.get(t.plural, key);
    if (!cur) throw this.notFound(t, name);
    const type = contentType.split(';')[0]!.trim();
    let next: JsonObject;
    if (type === 'application/merge-patch+json' || (type === 'application/strategic-merge-patch+json' && !t.schema)) {
      next = mergePatch(structuredClone(cur), patch) as JsonObject;
    } else if (type === 'application/json-patch+json') {
      if (!Array.isArray(patch)) throw new ApiError(400, 'BadRequest', 'json patch must be an array');
      next = jsonPatch(structuredClone(cur), patch as JsonObject[]);
    } else {
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`);
    }
    const rv = str(meta(next).resourceVersion);
    if (rv && rv !== meta(cur).resourceVersion) throw this.conflict(t, name);
    (next.metadata as JsonObject).resourceVersion = meta(cur).resourceVersion!;
    return this.doUpdate(t, namespace, name, next, subresource, fieldValidation);
  }

  private doDelete(t: ResourceType, namespace: string | undefined, name: string): JsonObject {
    const key = objectKey(t.namespaced ? namespace : undefined, name);
    const cur = this.store.get(t.plural, key);
    if (!cur) throw this.notFound(t, name);
    return this.present(t, this.store.commit(t.plural, key, 'DELETED', cur));
  }
}

function withoutMetaStatus(o: JsonObject): JsonObject {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

function stripRv(o: JsonObject): JsonObject {
  const c = structuredClone(o);
  delete (c.metadata as JsonObject).resourceVersion;
  return c;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

const unescapePointer = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** RFC 6902 JSON patch: add, remove, replace, test. */
export function jsonPatch(doc: JsonObject, ops: JsonObject[]): JsonObject {
  for (const op of ops) {
    const path = String(op.path ?? '');
    const tokens = path.split('/').slice(1).map(unescapePointer);
    const last = tokens.pop();
    if (last === undefined) throw new ApiError(422, 'Invalid', `json patch: cannot operate on the root`);
    let parent: Json = doc;
    for (const tk of tokens) {
      parent = Array.isArray(parent) ? (parent[Number(tk)] ?? null) : isObject(parent) ? (parent[tk] ?? null) : null;
      if (parent === null) throw new ApiError(422, 'Invalid', `json patch ${String(op.op)} operation does not apply: doc is missing path: "${path}"`);
    }
    const value = op.value as Json;
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else if (op.op === 'replace') parent[i] = structuredClone(value);
      else if (op.op === 'test' && JSON.stringify(parent[i]) !== JSON.stringify(value)) throw new ApiError(422, 'Invalid', `json patch test operation failed at "${path}"`);
    } else if (isObject(parent)) {
      if (op.op === 'add' || op.op === 'replace') {
        if (op.op === 'replace' && parent[last] === undefined) throw new ApiError(422, 'Invalid', `json patch replace operation does not apply: doc is missing key: "${path}"`);
        parent[last] = structuredClone(value);
      } else if (op.op === 'remove') {
        if (parent[last] === undefined) throw new ApiError(422, 'Invalid', `json patch remove operation does not apply: doc is missing path: "${path}"`);
        delete parent[last];
      } else if (op.op === 'test' && JSON.stringify(parent[last]) !== JSON.stringify(value)) throw new ApiError(422, 'Invalid', `json patch test operation failed at "${path}"`);
    }
  }
  return doc;
}

async function readJson(req: IncomingMessage, allowArray = false): Promise<JsonObject> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const v = JSON.parse(text) as Json;
    if (!isObject(v) && !(allowArray && Array.isArray(v))) throw new Error('not an object');
    return v as JsonObject;
  } catch (err) {
    throw new ApiError(400, 'BadRequest', `couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

export async function loadCrd(path: string): Promise<CustomResourceDefinition> {
  return parseYaml(await readFile(path, 'utf8')) as CustomResourceDefinition;
}
