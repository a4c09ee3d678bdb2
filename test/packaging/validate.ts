// Validates rendered manifests the way a strict kubeconform would:
//  - built-in kinds against the Kubernetes OpenAPI schemas of kubernetes-models 5.x (generated from
//    Kubernetes v1.36.0): types, formats, required fields, enums;
//  - plus unknown fields (the OpenAPI documents do not close objects, the API server's strict field
//    validation does): walked with @kubernetes/client-node's model type maps;
//  - custom resources: AIRoute against crds/ (structural schema + CEL, with the stand-in API
//    server's admission code), and the Prometheus Operator / cert-manager kinds against the
//    structural schemas in crd-schemas.ts (transcribed from their CRDs, closed objects).
// Anything else is an error: no manifest passes for lack of a schema.
import { readFileSync } from 'node:fs';
import * as clientNode from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { StructuralSchema } from '../../operator/crd/generate.ts';
import { admit, prune, validateSchema, type Json as SJson, type JsonObject } from '../k8s/schema.ts';
import { CRD_SCHEMAS } from './crd-schemas.ts';
import { isObj, ROOT, type Manifest, type Obj } from './support.ts';

interface ModelClass {
  new (data: unknown): { validate(): void };
}
interface AttributeType {
  baseName: string;
  type: string;
}
type ClientNodeModel = { getAttributeTypeMap?: () => AttributeType[] };

const models = new Map<string, Record<string, unknown>>();
async function modelModule(apiVersion: string): Promise<Record<string, unknown> | undefined> {
  if (!models.has(apiVersion)) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    try {
      const specifier = `kubernetes-models/${group ? `${group}/` : ''}${version}`;
      models.set(apiVersion, (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>);
    } catch {
      models.set(apiVersion, {});
    }
  }
  return models.get(apiVersion);
}

/** The field path in kubectl's style: spec.template.spec.containers[0].image */
function dotted(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

const CN = clientNode as unknown as Record<string, ClientNodeModel | undefined>;

/** Fields a client-node model does not know, recursively (the API server's strict validation). */
export function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arr[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return isObj(value) ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1]!, `${path}[${k}]`)) : [];
  const model = CN[type];
  const attrs = model?.getAttributeTypeMap?.();
  if (!attrs || !isObj(value)) return [];
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const t = known.get(k);
    const p = path ? `${path}.${k}` : k;
    if (t === undefined) out.push(p);
    else out.push(...unknownFields(v, t, p));
  }
  return out;
}

function clientNodeType(m: Manifest): string | undefined {
  for (const name of [`V1${m.kind}`, `${m.apiVersion.split('/')[0] === 'v1' ? 'Core' : ''}V1${m.kind}`]) if (CN[name]?.getAttributeTypeMap) return name;
  return undefined;
}

let airouteSchema: StructuralSchema | undefined;
function airouteCrd(): StructuralSchema {
  if (!airouteSchema) {
    const crd = parseYaml(readFileSync(`${ROOT}crds/airoute.dev_airoutes.yaml`, 'utf8')) as { spec: { versions: { name: string; schema: { openAPIV3Schema: StructuralSchema } }[] } };
    airouteSchema = crd.spec.versions.find((v) => v.name === 'v1alpha1')!.schema.openAPIV3Schema;
  }
  return airouteSchema;
}

function metadataErrors(m: Manifest): string[] {
  const errs: string[] = [];
  const name = m.metadata?.name;
  if (typeof name !== 'string' || !name) errs.push('metadata.name: Required value');
  else if (name.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) errs.push(`metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain`);
  for (const field of ['labels', 'annotations'] as const) {
    const map = m.metadata?.[field];
    if (map === undefined) continue;
    if (!isObj(map)) errs.push(`metadata.${field}: must be a map of strings`);
    else
      for (const [k, v] of Object.entries(map)) {
        if (typeof v !== 'string') errs.push(`metadata.${field}[${k}]: must be a string, got ${JSON.stringify(v)}`);
        const [prefix, base] = k.includes('/') ? k.split('/', 2) : ['', k];
        if (!/^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/.test(base!) || base!.length > 63 || (prefix && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix)))
          errs.push(`metadata.${field}: Invalid value: "${k}": not a qualified name`);
        if (field === 'labels' && typeof v === 'string' && (v.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)))
          errs.push(`metadata.labels[${k}]: Invalid value: "${v}": not a valid label value`);
      }
  }
  return errs;
}

/** Every problem with one manifest, as `Kind name: field: message` lines (empty: valid). */
export async function validateManifest(m: Manifest): Promise<string[]> {
  const where = `${m.kind} ${m.metadata?.name}`;
  const errs: string[] = metadataErrors(m);
  if (m.apiVersion === 'airoute.dev/v1alpha1' && m.kind === 'AIRoute') {
    const copy = structuredClone(m) as unknown as JsonObject;
    const r = admit(copy, airouteCrd(), ['spec']);
    errs.push(...r.errors.map((e) => e.message), ...r.unknownFields.map((f) => `${f}: unknown field`));
    return errs.map((e) => `${where}: ${e}`);
  }
  const crd = CRD_SCHEMAS[`${m.apiVersion}/${m.kind}`];
  if (crd) {
    const copy = structuredClone(m) as unknown as SJson;
    errs.push(...prune(copy, crd).map((f) => `${f}: unknown field`));
    errs.push(...validateSchema(m as unknown as SJson, crd).map((e) => e.message));
    return errs.map((e) => `${where}: ${e}`);
  }
  const mod = await modelModule(m.apiVersion);
  const Model = mod?.[m.kind] as ModelClass | undefined;
  if (!Model) return [`${where}: no schema for ${m.apiVersion} ${m.kind} (not a Kubernetes 1.36 kind, nor a known custom resource)`];
  try {
    new Model(m).validate();
  } catch (err) {
    const list = (err as { errors?: { instancePath: string; message?: string; params?: unknown }[] }).errors;
    if (!list) errs.push((err as Error).message);
    else for (const e of list) errs.push(`${dotted(e.instancePath) || '<root>'}: ${e.message} ${e.params ? JSON.stringify(e.params) : ''}`.trim());
  }
  const type = clientNodeType(m);
  if (!type) errs.push(`no field list for ${m.kind} in @kubernetes/client-node: cannot check for unknown fields`);
  else errs.push(...unknownFields(m, type, '').filter((f) => !['apiVersion', 'kind'].includes(f)).map((f) => `${f}: unknown field`));
  return errs.map((e) => `${where}: ${e}`);
}

export async function validateAll(ms: Manifest[]): Promise<string[]> {
  return (await Promise.all(ms.map(validateManifest))).flat();
}

export type { Obj };
