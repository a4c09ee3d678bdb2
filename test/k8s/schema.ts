// What the API server does with a custom resource against its CRD's structural schema, in the
// order it does it: prune (or, with fieldValidation=Strict, refuse) unknown fields, apply
// defaults, validate the OpenAPI constraints, then evaluate the x-kubernetes-validations CEL
// rules with a real CEL implementation. Error texts follow the API server's field.Error
// formatting so a test can assert what `kubectl apply` would print.
import { parse as celParse } from '@marcbachmann/cel-js';
import type { StructuralSchema } from '../../operator/crd/generate.ts';

export interface FieldError {
  /** `spec.routes[0].retry.backoff.baseMs` */
  field: string;
  /** FieldValueInvalid, FieldValueRequired, FieldValueNotSupported, FieldValueDuplicate, FieldValueTooLong, ... */
  reason: string;
  /** The full line, as the API server prints it. */
  message: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Unknown fields, by path, removing them (what pruning does). */
export function prune(value: Json, schema: StructuralSchema, path = ''): string[] {
  const unknown: string[] = [];
  if (schema['x-kubernetes-preserve-unknown-fields']) return unknown;
  if (isObject(value) && schema.type === 'object') {
    if (schema.properties) {
      for (const key of Object.keys(value)) {
        const child = schema.properties[key];
        if (!child) {
          // metadata is the API server's own business, never pruned against the CRD schema.
          if (path === '' && (key === 'metadata' || key === 'apiVersion' || key === 'kind')) continue;
          unknown.push(join(path, key));
          delete value[key];
        } else unknown.push(...prune(value[key]!, child, join(path, key)));
      }
    } else if (schema.additionalProperties) {
      for (const key of Object.keys(value)) unknown.push(...prune(value[key]!, schema.additionalProperties, `${path}[${key}]`));
    }
  } else if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => unknown.push(...prune(item, schema.items!, `${path}[${i}]`)));
  }
  return unknown;
}

/** Applies `default`s to absent properties of objects that are present (never creates a parent). */
export function applyDefaults(value: Json, schema: StructuralSchema): void {
  if (isObject(value) && schema.type === 'object') {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      if (value[key] === undefined && child.default !== undefined) value[key] = structuredClone(child.default) as Json;
      if (value[key] !== undefined) applyDefaults(value[key]!, child);
    }
    if (schema.additionalProperties) for (const v of Object.values(value)) applyDefaults(v, schema.additionalProperties);
  } else if (Array.isArray(value) && schema.items) {
    for (const item of value) applyDefaults(item, schema.items);
  }
}

function typeName(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function shown(v: Json): string {
  if (isObject(v)) return '"object"';
  if (Array.isArray(v)) return '"array"';
  return JSON.stringify(v);
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** OpenAPI constraint checks, reported like the API server does. */
export function validateSchema(value: Json, schema: StructuralSchema, path = ''): FieldError[] {
  const errors: FieldError[] = [];
  const invalid = (detail: string) => errors.push({ field: path, reason: 'FieldValueInvalid', message: `${path}: Invalid value: ${shown(value)}: ${detail}` });
  if (value === null) return errors; // nullable-ish: the API server drops nulls for absent fields
  const t = typeName(value);
  const want = schema.type;
  const typeOk = want === undefined || want === t || (want === 'number' && t === 'integer');
  if (!typeOk) {
    errors.push({ field: path, reason: 'FieldValueTypeInvalid', message: `${path}: Invalid value: ${shown(value)}: ${path} in body must be of type ${want}: "${t}"` });
    return errors;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errors.push({
      field: path,
      reason: 'FieldValueNotSupported',
      message: `${path}: Unsupported value: ${JSON.stringify(value)}: supported values: ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`,
    });
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum))
      invalid(`${path} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`);
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? value >= schema.maximum : value > schema.maximum))
      invalid(`${path} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) invalid(`${path} in body should be at least ${schema.minLength} chars long`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      errors.push({ field: path, reason: 'FieldValueTooLong', message: `${path}: Too long: may not be more than ${schema.maxLength} bytes` });
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) invalid(`${path} in body should match '${schema.pattern}'`);
    if (schema.format === 'date-time' && !DATE_TIME.test(value)) invalid(`${path} in body must be of type date-time: ${JSON.stringify(value)}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) invalid(`${path} in body should have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      errors.push({ field: path, reason: 'FieldValueTooMany', message: `${path}: Too many: ${value.length}: must have at most ${schema.maxItems} items` });
    if (schema.items) value.forEach((item, i) => errors.push(...validateSchema(item, schema.items!, `${path}[${i}]`)));
    errors.push(...listTypeErrors(value, schema, path));
  }
  if (isObject(value)) {
    for (const key of schema.required ?? [])
      if (value[key] === undefined || value[key] === null)
        errors.push({ field: join(path, key), reason: 'FieldValueRequired', message: `${join(path, key)}: Required value` });
    if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties)
      errors.push({ field: path, reason: 'FieldValueTooMany', message: `${path}: Too many: ${Object.keys(value).length}: must have at most ${schema.maxProperties} items` });
    for (const [key, child] of Object.entries(schema.properties ?? {}))
      if (value[key] !== undefined) errors.push(...validateSchema(value[key]!, child, join(path, key)));
    if (schema.additionalProperties)
      for (const [key, v] of Object.entries(value)) errors.push(...validateSchema(v, schema.additionalProperties, `${path}[${key}]`));
  }
  return errors;
}

/** x-kubernetes-list-type set and map: items unique (by their map keys), reported like the API
 *  server's listtype validation: `spec.backends[1]: Duplicate value: map[string]interface {}{"name":"a"}`. */
function listTypeErrors(value: Json[], schema: StructuralSchema, path: string): FieldError[] {
  const type = schema['x-kubernetes-list-type'];
  if (type !== 'set' && type !== 'map') return [];
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    let id: string;
    let shownValue: string;
    if (type === 'map') {
      if (!isObject(item)) return;
      const keys = Object.fromEntries((schema['x-kubernetes-list-map-keys'] ?? []).filter((k) => item[k] !== undefined && item[k] !== null).map((k) => [k, item[k]!]));
      id = JSON.stringify(keys);
      shownValue = `map[string]interface {}{${Object.entries(keys).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(', ')}}`;
    } else {
      id = JSON.stringify(item);
      shownValue = JSON.stringify(item);
    }
    if (seen.has(id)) errors.push({ field: `${path}[${i}]`, reason: 'FieldValueDuplicate', message: `${path}[${i}]: Duplicate value: ${shownValue}` });
    seen.add(id);
  });
  return errors;
}

/** CEL sees integers as int (BigInt here) and numbers as double, as the API server types them. */
function toCel(value: Json, schema: StructuralSchema): unknown {
  if (value === null) return null;
  if (Array.isArray(value)) return value.map((v) => (schema.items ? toCel(v, schema.items) : v));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const child = schema.properties?.[k] ?? schema.additionalProperties;
      out[k] = child ? toCel(v, child) : v;
    }
    return out;
  }
  if (typeof value === 'number' && schema.type === 'integer') return BigInt(value);
  return value;
}

const compiled = new Map<string, ReturnType<typeof celParse>>();
function program(rule: string): ReturnType<typeof celParse> {
  let p = compiled.get(rule);
  if (!p) {
    p = celParse(rule);
    compiled.set(rule, p);
  }
  return p;
}

const RULE_REASONS: Record<string, string> = {
  FieldValueInvalid: 'Invalid value',
  FieldValueForbidden: 'Forbidden',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
};

/** Evaluates every x-kubernetes-validations rule at every node whose value is present. */
export function validateCel(value: Json, schema: StructuralSchema, path = ''): FieldError[] {
  const errors: FieldError[] = [];
  if (value === null || value === undefined) return errors;
  for (const r of schema['x-kubernetes-validations'] ?? []) {
    let ok: unknown;
    let failure: string | undefined;
    try {
      ok = program(r.rule)({ self: toCel(value, schema) });
    } catch (err) {
      failure = `compilation or evaluation error: ${(err as Error).message}`;
    }
    if (failure === undefined && ok === true) continue;
    const field = r.fieldPath ? path + r.fieldPath : path;
    const reason = r.reason ?? 'FieldValueInvalid';
    const label = RULE_REASONS[reason] ?? 'Invalid value';
    const msg = failure ?? r.message ?? `failed rule: ${r.rule}`;
    // The API server prints the node's type, not its value, for rule failures: Invalid value: "object".
    const typeShown = `"${schema.type ?? 'object'}"`;
    errors.push({ field, reason, message: reason === 'FieldValueInvalid' ? `${field}: ${label}: ${typeShown}: ${msg}` : `${field}: ${label}: ${msg}` });
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => errors.push(...validateCel(item, schema.items!, `${path}[${i}]`)));
  if (isObject(value)) {
    for (const [key, child] of Object.entries(schema.properties ?? {}))
      if (value[key] !== undefined) errors.push(...validateCel(value[key]!, child, join(path, key)));
    if (schema.additionalProperties) for (const [key, v] of Object.entries(value)) errors.push(...validateCel(v, schema.additionalProperties, `${path}[${key}]`));
  }
  return errors;
}

export interface Admitted {
  errors: FieldError[];
  /** Pruned fields (a warning each, or an error under fieldValidation=Strict). */
  unknownFields: string[];
}

/** Admission of one part (spec or status) of a custom resource, mutating `value` in place. */
export function admit(obj: JsonObject, schema: StructuralSchema, parts: readonly string[]): Admitted {
  const unknownFields: string[] = [];
  const errors: FieldError[] = [];
  for (const part of parts) {
    const sub = schema.properties?.[part];
    if (!sub || obj[part] === undefined) continue;
    const holder: JsonObject = { [part]: obj[part]! };
    unknownFields.push(...prune(holder, { type: 'object', properties: { [part]: sub } }));
    obj[part] = holder[part]!;
    applyDefaults(holder, { type: 'object', properties: { [part]: sub } });
  }
  for (const part of parts) {
    const sub = schema.properties?.[part];
    if (!sub) continue;
    if (obj[part] === undefined) {
      if (schema.required?.includes(part)) errors.push({ field: part, reason: 'FieldValueRequired', message: `${part}: Required value` });
      continue;
    }
    const schemaErrors = validateSchema(obj[part]!, sub, part);
    errors.push(...schemaErrors);
    // Like the API server (hasBlockingErr), CEL does not run on a value of the wrong type: rules
    // assume the declared shape. Other schema errors and rule failures are reported together.
    if (schemaErrors.some((e) => e.reason === 'FieldValueTypeInvalid'))
      errors.push({ field: part, reason: 'FieldValueInvalid', message: `${part}: Invalid value: "object": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation` });
    else errors.push(...validateCel(obj[part]!, sub, part));
  }
  return { errors, unknownFields };
}

export type { Json, JsonObject };
