// The manifest validator itself (validate.ts): it must catch what a strict API server refuses, or a
// clean run of the chart tests would mean nothing.
import { describe, expect, test } from 'vitest';
import type { Manifest } from './support.ts';
import { validateManifest } from './validate.ts';

const deployment = (container: Record<string, unknown>, extra: Record<string, unknown> = {}): Manifest =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', namespace: 'default', labels: { app: 'x' } },
    spec: { selector: { matchLabels: { app: 'x' } }, template: { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'i', ...container }] } }, ...extra },
  }) as Manifest;

describe('built-in kinds (kubernetes-models schemas + client-node field lists)', () => {
  test('a valid Deployment passes', async () => {
    expect(await validateManifest(deployment({ ports: [{ containerPort: 80, name: 'http' }] }))).toEqual([]);
  });
  test('a wrong type is reported with its path', async () => {
    const errs = await validateManifest(deployment({ ports: [{ containerPort: 'eighty' }] }));
    expect(errs.join('\n')).toContain('spec.template.spec.containers[0].ports[0].containerPort: must be integer');
  });
  test('a misspelt field is reported (strict field validation)', async () => {
    const errs = await validateManifest(deployment({ securityContex: { runAsNonRoot: true } }));
    expect(errs).toEqual(['Deployment x: spec.template.spec.containers[0].securityContex: unknown field']);
  });
  test('a missing required field is reported', async () => {
    const errs = await validateManifest({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ name: 'p' }] } } as unknown as Manifest);
    expect(errs.join('\n')).toMatch(/spec\.ports\[0\].*port/);
  });
  test('an unknown kind or apiVersion is an error, not a pass', async () => {
    expect(await validateManifest({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } } as Manifest)).toEqual([expect.stringContaining('no schema for apps/v1 Deploymnet')]);
    // Removed APIs (PodSecurityPolicy went in 1.25) are refused too.
    expect((await validateManifest({ apiVersion: 'policy/v1beta1', kind: 'PodSecurityPolicy', metadata: { name: 'x' } } as Manifest)).length).toBeGreaterThan(0);
  });
  test('bad metadata: names and label values', async () => {
    const errs = await validateManifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name', labels: { app: 'x'.repeat(64) } } } as unknown as Manifest);
    expect(errs.join('\n')).toContain('metadata.name');
    expect(errs.join('\n')).toContain('metadata.labels[app]');
  });
});

describe('custom resources', () => {
  test('AIRoute: the CRD schema and its CEL rules apply', async () => {
    const route = (spec: unknown) => ({ apiVersion: 'airoute.dev/v1alpha1', kind: 'AIRoute', metadata: { name: 'r', namespace: 'default' }, spec }) as unknown as Manifest;
    expect(await validateManifest(route({ podSelector: {}, backends: [{ name: 'd', type: 'demo' }], routes: [{ model: 'm', backends: [{ backend: 'd' }] }] }))).toEqual([]);
    const errs = await validateManifest(route({ podSelector: {}, backends: [{ name: 'd', type: 'demo', colour: 'red' }], routes: [{ model: 'm', backends: [{ backend: 'nope' }] }] }));
    expect(errs.join('\n')).toContain('spec.backends[0].colour: unknown field');
    expect(errs.join('\n')).toContain('must name a backend declared in spec.backends');
  });
  test('ServiceMonitor: closed objects and the duration pattern', async () => {
    const sm = (endpoint: Record<string, unknown>) =>
      ({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 's' }, spec: { selector: { matchLabels: { a: 'b' } }, endpoints: [endpoint] } }) as unknown as Manifest;
    expect(await validateManifest(sm({ port: 'metrics', interval: '30s', honorLabels: true }))).toEqual([]);
    expect((await validateManifest(sm({ port: 'metrics', honourLabels: true }))).join('\n')).toContain('spec.endpoints[0].honourLabels: unknown field');
    expect((await validateManifest(sm({ port: 'metrics', interval: '30 seconds' }))).join('\n')).toContain('spec.endpoints[0].interval');
  });
  test('PrometheusRule: every rule needs an expr', async () => {
    const errs = await validateManifest({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'p' }, spec: { groups: [{ name: 'g', rules: [{ alert: 'A' }] }] } } as unknown as Manifest);
    expect(errs.join('\n')).toContain('spec.groups[0].rules[0].expr: Required value');
  });
  test('cert-manager Certificate: usages are an enum', async () => {
    const errs = await validateManifest({ apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: 'c' }, spec: { secretName: 's', issuerRef: { name: 'i' }, usages: ['server-auth'] } } as unknown as Manifest);
    expect(errs.join('\n')).toContain('spec.usages[0]: Unsupported value: "server-auth"');
  });
});
