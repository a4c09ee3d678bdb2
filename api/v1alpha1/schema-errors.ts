// Why a document fails the schema, field by field, from TypeBox's validator. Only ever loaded after
// the generated check (generated/check-config.ts) refused a document: typebox costs a sidecar ~13
// MiB of resident memory for as long as it runs, and a sidecar whose documents are valid never
// needs it (validate.ts loads this module on demand).
import { Compile } from 'typebox/compile';
import { ConfigPush, SidecarConfig } from './config.ts';
import { formatIssue, pointerToPath, type ConfigIssue } from './issues.ts';

const checkConfig = Compile(SidecarConfig);
const checkPush = Compile(ConfigPush);

/** The schema issues of a config document (`base` prefixes every path, e.g. `spec`). */
export function configSchemaIssues(doc: unknown, base = ''): ConfigIssue[] {
  return schemaIssues(checkConfig.Errors(doc) as Iterable<SchemaError>, base);
}

/** The schema issues of an admin-port push body. */
export function pushSchemaIssues(doc: unknown): ConfigIssue[] {
  return schemaIssues(checkPush.Errors(doc) as Iterable<SchemaError>);
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function schemaIssues(errors: Iterable<SchemaError>, base = ''): ConfigIssue[] {
  const all = [...errors];
  // A union (apiKey) reports every branch's complaints; collapse them into one line at the union.
  const unionPaths = all.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath);
  const underUnion = (p: string) => unionPaths.some((u) => p !== u && p.startsWith(u + '/'));
  const issues: ConfigIssue[] = [];
  for (const e of all) {
    if (e.keyword === 'boolean') continue; // the additionalProperties error below names the field
    if (underUnion(e.instancePath)) continue;
    if (unionPaths.includes(e.instancePath) && e.keyword !== 'anyOf') continue;
    const path = pointerToPath(e.instancePath, base);
    switch (e.keyword) {
      case 'additionalProperties':
        for (const name of (e.params.additionalProperties as string[] | undefined) ?? [])
          issues.push({ path: path ? `${path}.${name}` : name, message: 'unknown field' });
        break;
      case 'required':
        for (const name of (e.params.requiredProperties as string[] | undefined) ?? [])
          issues.push({ path: path ? `${path}.${name}` : name, message: 'required field is missing' });
        break;
      case 'enum':
        issues.push({ path, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` });
        break;
      case 'anyOf':
        issues.push({ path, message: 'must be {env: NAME} or {value: KEY} (in an AIRoute: {secretKeyRef: {name, key}})' });
        break;
      default:
        issues.push({ path, message: e.message });
    }
  }
  return dedupe(issues);
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = formatIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
