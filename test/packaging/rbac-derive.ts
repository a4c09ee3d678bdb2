// What the operator's code asks of the Kubernetes API, derived from its source (operator/**/*.ts,
// tests excluded): every call of a @kubernetes/client-node API method, and every watch its
// informers open. The result is a list of (apiGroup, resource, verb, resourceNames) that the RBAC
// test compares with what the chart grants.
//
//  - API calls: any `.method(` whose name is a method of one of client-node's generated API
//    classes (CoreV1Api, CoordinationV1Api, CustomObjectsApi, ...: read from the library itself, so
//    a call through any of them is found however the client variable is named). The verb and the
//    resource come from the method name (readNamespacedLease → get leases; replaceNamespaced-
//    CustomObjectStatus → update <plural>/status), the API group from the class that defines the
//    method, or for CustomObjectsApi from its `group:` and `plural:` arguments, resolved through the
//    string constants the code exports. A `name:` argument that is such a constant limits the
//    need to that name.
//  - Watches: the informer (operator/kube/informer.ts, the only user of client-node's Watch and
//    ListWatch) watches the `path` it is given; each `new Informer({...})` is one watch on the
//    resource its path names (its `list` function is an API call like any other).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as clientNode from '@kubernetes/client-node';
import { ROOT } from './support.ts';

export interface Need {
  group: string;
  resource: string;
  verb: string;
  /** Resource names the code limits itself to; undefined = any name. */
  names?: string[];
  /** file:line of each call site. */
  where: string[];
}

const VERBS: Record<string, string> = { get: 'get', read: 'get', list: 'list', create: 'create', replace: 'update', patch: 'patch', delete: 'delete', deleteCollection: 'deletecollection' };
const GROUPS: Record<string, string> = {
  Core: '', Coordination: 'coordination.k8s.io', Apps: 'apps', Batch: 'batch', Policy: 'policy', Networking: 'networking.k8s.io', RbacAuthorization: 'rbac.authorization.k8s.io',
  Admissionregistration: 'admissionregistration.k8s.io', Apiextensions: 'apiextensions.k8s.io', Apiregistration: 'apiregistration.k8s.io', Events: 'events.k8s.io', Discovery: 'discovery.k8s.io',
  Storage: 'storage.k8s.io', Certificates: 'certificates.k8s.io', Autoscaling: 'autoscaling', Scheduling: 'scheduling.k8s.io', Node: 'node.k8s.io', Authentication: 'authentication.k8s.io',
  Authorization: 'authorization.k8s.io', Resource: 'resource.k8s.io', FlowcontrolApiserver: 'flowcontrol.apiserver.k8s.io',
};
const SUBRESOURCES: Record<string, string> = { Status: 'status', Scale: 'scale', Ephemeralcontainers: 'ephemeralcontainers', Resize: 'resize', Log: 'log', Eviction: 'eviction', Binding: 'binding', Proxy: 'proxy', Attach: 'attach', Exec: 'exec', Portforward: 'portforward' };

export function plural(kind: string): string {
  const k = kind.toLowerCase();
  if (k === 'endpoints') return k;
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(k)) return `${k}es`;
  return `${k}s`;
}

/** Source with comments blanked out (strings and template literals kept, so positions and line
 *  numbers stay right and `http://` in a string is not a comment). */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') (out += ' '), i++;
    } else if (c === '/' && n === '*') {
      while (i < src.length && !(src[i] === '*' && src[i + 1] === '/')) (out += src[i] === '\n' ? '\n' : ' '), i++;
      out += '  ';
      i += 2;
    } else if (c === "'" || c === '"' || c === '`') {
      const q = c;
      out += c;
      i++;
      while (i < src.length && src[i] !== q) {
        if (src[i] === '\\') (out += src[i]), i++;
        out += src[i];
        i++;
      }
      out += src[i] ?? '';
      i++;
    } else (out += c), i++;
  }
  return out;
}

/** The text between the bracket at `open` and its match. */
export function balanced(src: string, open: number): string {
  const pairs: Record<string, string> = { '(': ')', '{': '}', '[': ']' };
  const stack: string[] = [];
  for (let i = open; i < src.length; i++) {
    const c = src[i]!;
    if (c === "'" || c === '"' || c === '`') {
      const q = c;
      for (i++; i < src.length && src[i] !== q; i++) if (src[i] === '\\') i++;
      continue;
    }
    if (pairs[c]) stack.push(pairs[c]!);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (!stack.length) return src.slice(open + 1, i);
    }
  }
  throw new Error(`unbalanced bracket at ${open}`);
}

/** The expression of `key:` at the top level of an object literal's text. */
export function property(objText: string, key: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < objText.length; i++) {
    const c = objText[i]!;
    if (c === "'" || c === '"' || c === '`') {
      const q = c;
      for (i++; i < objText.length && objText[i] !== q; i++) if (objText[i] === '\\') i++;
      continue;
    }
    if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) depth--;
    else if (depth === 0 && objText.startsWith(key, i) && !/[\w$.]/.test(objText[i - 1] ?? ' ')) {
      const rest = objText.slice(i + key.length);
      const m = /^\s*:/.exec(rest);
      if (m) {
        // Up to the next top-level comma.
        const start = i + key.length + m[0].length;
        let d = 0;
        for (let j = start; j < objText.length; j++) {
          const ch = objText[j]!;
          if (ch === "'" || ch === '"' || ch === '`') {
            const q = ch;
            for (j++; j < objText.length && objText[j] !== q; j++) if (objText[j] === '\\') j++;
            continue;
          }
          if ('({['.includes(ch)) d++;
          else if (')}]'.includes(ch)) d--;
          if ((ch === ',' && d === 0) || d < 0) return objText.slice(start, j).trim();
        }
        return objText.slice(start).trim();
      }
      // Shorthand property `{ name, namespace }`.
      if (/^\s*[,}]|^\s*$/.test(rest)) return key;
    }
  }
  return undefined;
}

export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

/** `export const X = 'literal'` (or a template of other such constants) across api/ and operator/. */
export function stringConstants(): Map<string, string> {
  const raw = new Map<string, string>();
  for (const f of [...sourceFiles(join(ROOT, 'api')), ...sourceFiles(join(ROOT, 'operator'))]) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^export const ([A-Z][A-Z0-9_]*) = ('[^'\n]*'|"[^"\n]*"|`[^`\n]*`);/gm)) raw.set(m[1]!, m[2]!);
  }
  const out = new Map<string, string>();
  const resolve = (name: string, seen = new Set<string>()): string | undefined => {
    if (out.has(name)) return out.get(name);
    const lit = raw.get(name);
    if (lit === undefined || seen.has(name)) return undefined;
    seen.add(name);
    let v: string | undefined = lit.slice(1, -1);
    if (lit.startsWith('`')) v = v.replace(/\$\{(\w+)\}/g, (_, id: string) => resolve(id, seen) ?? `\${${id}}`);
    if (v.includes('${')) v = undefined;
    if (v !== undefined) out.set(name, v);
    return v;
  };
  for (const k of raw.keys()) resolve(k);
  return out;
}

/** A string constant, a string literal, or undefined (a runtime value). */
function valueOf(expr: string | undefined, consts: Map<string, string>): string | undefined {
  if (!expr) return undefined;
  const e = expr.trim();
  const lit = /^(['"])(.*)\1$/.exec(e);
  if (lit) return lit[2];
  return consts.get(e);
}

/** Method name → the client-node API classes that define it (KubernetesObjectApi's generic
 *  methods are not typed by resource and are reported separately). */
export function apiMethods(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [cls, value] of Object.entries(clientNode as Record<string, unknown>)) {
    if (!/^[A-Z]\w*Api$/.test(cls) || typeof value !== 'function' || cls === 'KubernetesObjectApi') continue;
    const proto = (value as { prototype: object }).prototype;
    for (const m of Object.getOwnPropertyNames(proto))
      if (m !== 'constructor' && /^(get|read|list|create|replace|patch|delete|deleteCollection|connect)[A-Z]/.test(m)) map.set(m, [...(map.get(m) ?? []), cls]);
  }
  return map;
}

/** Which class a call goes through, when several define the method (createNamespacedEvent is on
 *  CoreV1Api and EventsV1Api): the one the file (or else the operator) refers to. */
function pickClass(candidates: string[], fileSrc: string, allSrc: string): string[] {
  const groupOf = (c: string) => (c === 'CustomObjectsApi' ? '*' : GROUPS[/^([A-Z][a-zA-Z]*?)V\d/.exec(c)?.[1] ?? '']);
  const distinct = (cs: string[]) => [...new Set(cs.map(groupOf))].length <= 1;
  if (distinct(candidates)) return candidates;
  for (const src of [fileSrc, allSrc]) {
    const used = candidates.filter((c) => new RegExp(`\\b${c}\\b`).test(src));
    if (used.length && distinct(used)) return used;
  }
  return candidates;
}

function lineOf(src: string, index: number): number {
  return src.slice(0, index).split('\n').length;
}

export interface Derived {
  needs: Need[];
  /** Things the derivation cannot type (a generic client, an API path it cannot parse). */
  problems: string[];
}

function addNeed(needs: Need[], n: Omit<Need, 'where'>, where: string): void {
  const same = needs.find((x) => x.group === n.group && x.resource === n.resource && x.verb === n.verb);
  if (!same) {
    needs.push({ ...n, ...(n.names ? { names: [...n.names] } : {}), where: [where] });
    return;
  }
  same.where.push(where);
  // One call site without a name restriction makes the need unrestricted.
  if (!same.names || !n.names) delete same.names;
  else for (const x of n.names) if (!same.names.includes(x)) same.names.push(x);
}

/** Parses `/api/v1/...` or `/apis/g/v/...` (namespaced or not) into group and resource. */
export function parseApiPath(path: string): { group: string; resource: string } | undefined {
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/[^/]+)?\/([a-z0-9.-]+)$/.exec(path);
  return m ? { group: m[1] ?? '', resource: m[2]! } : undefined;
}

export function deriveOperatorNeeds(): Derived {
  const consts = stringConstants();
  const methods = apiMethods();
  const needs: Need[] = [];
  const problems: string[] = [];
  const files = sourceFiles(join(ROOT, 'operator'));
  const allSrc = files.map((f) => stripComments(readFileSync(f, 'utf8'))).join('\n');
  for (const file of files) {
    const rel = relative(ROOT, file);
    const src = stripComments(readFileSync(file, 'utf8'));
    if (/\bKubernetesObjectApi\b/.test(src)) problems.push(`${rel}: uses KubernetesObjectApi (generic; its verbs cannot be derived per resource)`);
    if (/\bnew\s+(ListWatch|Watch|BookmarkingWatch)\b/.test(src) && !rel.endsWith('kube/informer.ts')) problems.push(`${rel}: opens a watch outside operator/kube/informer.ts`);

    for (const m of src.matchAll(/\.(\w+)\s*\(/g)) {
      const method = m[1]!;
      const candidates = methods.get(method);
      if (!candidates) continue;
      const where = `${rel}:${lineOf(src, m.index)}`;
      const picked = pickClass(candidates, src, allSrc);
      const cls = picked[0]!;
      if (picked.length > 1 && new Set(picked.map((c) => /^([A-Z][a-zA-Z]*?)V\d/.exec(c)?.[1])).size > 1) {
        problems.push(`${where}: ${method} is defined by ${picked.join(', ')}; cannot tell which API group it calls`);
        continue;
      }
      const args = balanced(src, m.index + m[0].length - 1);
      const obj = /^\s*\{/.test(args) ? balanced(args, args.indexOf('{')) : '';
      const names = valueOf(property(obj, 'name'), consts);
      if (cls === 'CustomObjectsApi') {
        const cm = /^(get|list|create|replace|patch|delete)(?:Namespaced|Cluster)?CustomObject(Status|Scale)?(?:ForAllNamespaces)?$/.exec(method);
        const group = valueOf(property(obj, 'group'), consts);
        const res = valueOf(property(obj, 'plural') ?? property(obj, 'resourcePlural'), consts);
        if (!cm || group === undefined || res === undefined) {
          problems.push(`${where}: ${method}: cannot resolve group/plural (${property(obj, 'group')}, ${property(obj, 'plural') ?? property(obj, 'resourcePlural')})`);
          continue;
        }
        addNeed(needs, { group, resource: cm[2] ? `${res}/${SUBRESOURCES[cm[2]]}` : res, verb: VERBS[cm[1]!]!, ...(names ? { names: [names] } : {}) }, where);
        continue;
      }
      const gm = /^([A-Z][a-zA-Z]*?)V\d/.exec(cls);
      const group = gm ? GROUPS[gm[1]!] : undefined;
      const tm = /^(read|list|create|replace|patch|delete|deleteCollection|connect\w+?)(?:Namespaced)?([A-Z]\w*?)(Status|Scale|Ephemeralcontainers|Resize|Log|Eviction|Binding|Proxy|Attach|Exec|Portforward)?(?:ForAllNamespaces)?$/.exec(method);
      if (group === undefined || !tm || !VERBS[tm[1]!]) {
        problems.push(`${where}: ${cls}.${method}: no rule to map it to a verb and resource`);
        continue;
      }
      const resource = plural(tm[2]!) + (tm[3] ? `/${SUBRESOURCES[tm[3]]}` : '');
      addNeed(needs, { group, resource, verb: VERBS[tm[1]!]!, ...(names ? { names: [names] } : {}) }, where);
    }

    for (const m of src.matchAll(/\bnew\s+Informer\b(?:<[^>]*>)?\s*\(/g)) {
      const where = `${rel}:${lineOf(src, m.index)}`;
      const args = balanced(src, m.index + m[0].length - 1);
      const pathExpr = property(balanced(args, args.indexOf('{')), 'path');
      if (!pathExpr) {
        problems.push(`${where}: new Informer without a path`);
        continue;
      }
      const literals = [...pathExpr.matchAll(/(['"`])(\/api[^'"`]*)\1/g)].map((x) => x[2]!.replace(/\$\{(\w+)\}/g, (_, id: string) => consts.get(id) ?? `{${id}}`));
      if (!literals.length) problems.push(`${where}: informer path is not a literal: ${pathExpr}`);
      for (const p of literals) {
        const r = parseApiPath(p);
        if (!r) problems.push(`${where}: cannot parse informer path ${p}`);
        else addNeed(needs, { ...r, verb: 'watch' }, where);
      }
    }
  }
  return { needs, problems };
}

/** The Lease name the operator's main passes to the leader elector (its calls use that name). */
export function leaseName(): string | undefined {
  const src = stripComments(readFileSync(join(ROOT, 'operator/main.ts'), 'utf8'));
  const i = src.search(/leaderElection\s*:\s*\{/);
  if (i < 0) return undefined;
  const obj = balanced(src, src.indexOf('{', i));
  return valueOf(property(obj, 'name'), stringConstants());
}
