// values.schema.json: a typo or a wrong value in values fails `helm template` / `helm lint` /
// `helm install` (all run the same check) with a message naming it, through the real helm.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CHART, NAMESPACE, ROOT, getTools, helm } from './support.ts';

beforeAll(async () => {
  await getTools();
}, 600_000);

const schema = JSON.parse(readFileSync(`${ROOT}${CHART}/values.schema.json`, 'utf8')) as Record<string, unknown>;
const values = parseYaml(readFileSync(`${ROOT}${CHART}/values.yaml`, 'utf8')) as Record<string, unknown>;

const template = (...set: string[]) => helm(['template', 'airoute', CHART, '--namespace', NAMESPACE, ...set.flatMap((s) => ['--set', s])]);

describe('refused, naming the value', () => {
  const cases: [string, string[], RegExp][] = [
    ['a number as a word', ['replicaCount=two'], /at '\/replicaCount': got string, want integer/],
    ['an unknown top-level key (typo)', ['replicaCoutn=2'], /additional properties 'replicaCoutn' not allowed/],
    ['a typo in a nested key', ['sidecar.image.tga=1.0'], /at '\/sidecar\/image': additional properties 'tga' not allowed/],
    ['a failure policy that does not exist', ['webhook.failurePolicy=Never'], /at '\/webhook\/failurePolicy': value must be one of 'Fail', 'Ignore'/],
    ['a duration the operator cannot parse', ['operator.push.timeout=5sec'], /at '\/operator\/push\/timeout': '5sec' does not match pattern/],
    ['a port out of range', ['sidecar.adminPort=70000'], /at '\/sidecar\/adminPort': maximum: got 70,000, want 65,535/],
    ['a log level pino does not have', ['sidecar.logLevel=verbose'], /at '\/sidecar\/logLevel': value must be one of/],
    ['a Redis journal without a URL', ['journal.type=redis'], /at '\/journal\/url'/],
    ['a journal URL that is not Redis', ['journal.url=http://redis:6379'], /at '\/journal\/url': 'http:\/\/redis:6379' does not match pattern/],
    ['a password in the journal URL', ['journal.url=redis://user:secret@redis:6379'], /at '\/journal\/url': 'redis:\/\/user:secret@redis:6379' does not match pattern/],
    ['an unknown journal type', ['journal.type=postgres'], /at '\/journal\/type': value must be one of 'memory', 'redis'/],
    ['an image digest that is not one', ['image.digest=latest'], /at '\/image\/digest'/],
  ];
  test.each(cases)('%s', async (_, set, message) => {
    const r = await template(...set);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toMatch(message);
  });

  test('helm lint reports it too', async () => {
    const r = await helm(['lint', CHART, '--set', 'replicaCount=two']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/\[ERROR\] values\.yaml: - at '\/replicaCount': got string, want integer/);
  });

  test('combinations the schema cannot express are refused by the templates, with the reason', async () => {
    const a = await template('operator.leaderElection.enabled=false');
    expect(a.code).not.toBe(0);
    expect(a.stderr).toContain('replicaCount > 1 needs operator.leaderElection.enabled: true');
    const b = await template(`operator.watchNamespace=${NAMESPACE}`);
    expect(b.stderr).toContain('operator.watchNamespace must not be the release namespace');
    const c = await template('networkPolicy.enabled=true', `networkPolicy.namespaces={${NAMESPACE}}`);
    expect(c.stderr).toContain('networkPolicy.namespaces must not list the release namespace');
  });
});

test('valid overrides are accepted (as strings from --set where helm types them so)', async () => {
  const r = await template('replicaCount=3', 'webhook.failurePolicy=Ignore', 'journal.type=redis', 'journal.url=redis://redis:6379/0', 'podDisruptionBudget.minAvailable=50%');
  expect(r.code, r.stderr).toBe(0);
});

describe('the schema itself', () => {
  /** Every object node, with its path. */
  function objects(node: Record<string, unknown>, path: string, out: [string, Record<string, unknown>][] = []): [string, Record<string, unknown>][] {
    if (node.type === 'object') out.push([path, node]);
    for (const [k, child] of Object.entries((node.properties as Record<string, Record<string, unknown>> | undefined) ?? {})) objects(child, path ? `${path}.${k}` : k, out);
    return out;
  }

  test('closed: every object of the chart’s own is additionalProperties: false; open ones are Kubernetes objects or string maps, listed', () => {
    const open = objects(schema, '')
      .filter(([, n]) => n.additionalProperties !== false)
      .map(([p, n]) => `${p}${isStringMap(n) ? ' (string map)' : ''}`);
    expect(open.sort()).toEqual(
      [
        'global', 'podSecurityContext', 'securityContext', 'affinity',
        'podAnnotations (string map)', 'podLabels (string map)', 'nodeSelector (string map)', 'serviceAccount.annotations (string map)',
        'resources.requests', 'resources.limits', 'sidecar.resources.requests', 'sidecar.resources.limits',
        'metrics.serviceMonitor.labels (string map)', 'metrics.podMonitor.labels (string map)', 'metrics.prometheusRule.labels (string map)',
        'dashboards.labels (string map)', 'dashboards.annotations (string map)',
      ].sort(),
    );
  });
  function isStringMap(n: Record<string, unknown>): boolean {
    return (n.additionalProperties as Record<string, unknown> | undefined)?.type === 'string';
  }

  test('values.yaml has a schema entry for every key, and the schema nothing values.yaml lacks', () => {
    const walk = (v: unknown, s: Record<string, unknown>, path: string, issues: string[]) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || s.additionalProperties !== false) return;
      const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const k of Object.keys(v)) if (!props[k]) issues.push(`values.yaml ${path}${k} has no schema`);
      // Optional parts a default leaves out: an empty issuerRef, ResourceRequirements.claims.
      const optional = Object.keys(v).length === 0 ? Object.keys(props) : ['global', 'claims', 'ownerLeaseMs'];
      for (const k of Object.keys(props)) if (!(k in (v as object)) && !optional.includes(k)) issues.push(`schema ${path}${k} is not in values.yaml`);
      for (const [k, child] of Object.entries(v)) if (props[k]) walk(child, props[k]!, `${path}${k}.`, issues);
    };
    const issues: string[] = [];
    walk(values, schema, '', issues);
    expect(issues).toEqual([]);
  });

  test('docs/install.md documents every top-level value', () => {
    const doc = readFileSync(`${ROOT}docs/install.md`, 'utf8');
    for (const k of Object.keys(values)) expect(doc, k).toContain(`\`${k}`);
  });
});
