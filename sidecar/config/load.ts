// Loads a standalone config file (YAML or JSON; YAML is a superset) and runs it through the same
// validator the operator uses, then compiles it with keys from the environment.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { formatIssue, validateConfig, type ConfigIssue } from '../../api/v1alpha1/validate.ts';
import { compileConfig, envSecrets, type RuntimeConfig, type SecretResolver } from './runtime.ts';

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(source: string, issues: ConfigIssue[]) {
    super(`invalid config ${source}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
    this.issues = issues;
  }
}

export function parseConfigText(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) throw new ConfigError(source, doc.errors.map((e) => ({ path: '', message: e.message.split('\n')[0] ?? e.message })));
  return doc.toJS();
}

export function configFromDocument(doc: unknown, source: string, version: number, resolve: SecretResolver = envSecrets()): RuntimeConfig {
  const v = validateConfig(doc);
  if (!v.ok) throw new ConfigError(source, v.issues);
  const c = compileConfig(v.value, version, resolve);
  if (!c.ok) throw new ConfigError(source, c.issues);
  return c.config;
}

export async function loadConfigFile(path: string, resolve?: SecretResolver): Promise<RuntimeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
  }
  return configFromDocument(parseConfigText(text, path), path, 1, resolve);
}
