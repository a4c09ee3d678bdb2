// examples/: every document valid (AIRoutes against crds/ with its CEL rules, the rest against the
// Kubernetes schemas), each AIRoute accepted by the operator's own compiler with the keys its file
// provides (what `kubectl apply -f <file>` turns into Accepted + ResolvedRefs), and the set of
// examples the install guide promises.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { AIRouteSpec } from '../../api/v1alpha1/airoute.ts';
import { INJECT_ANNOTATION } from '../../operator/reconcile/pods.ts';
import { compileRoute } from '../../operator/reconcile/compile.ts';
import { admit, type JsonObject } from '../k8s/schema.ts';
import { describe as explain, restricted } from './pss.ts';
import { ROOT, podTemplate, readManifests, type Manifest, type Obj } from './support.ts';
import { validateManifest } from './validate.ts';

const FILES = readdirSync(`${ROOT}examples`).filter((f) => f.endsWith('.yaml')).sort();
const docs = new Map(FILES.map((f) => [f, readManifests(`examples/${f}`)]));
const all = [...docs.values()].flat();
const routes = all.filter((m) => m.kind === 'AIRoute');
type Backend = { name: string; type: string; baseURL?: string; apiKey?: { secretKeyRef: { name: string; key: string } }; prefill?: boolean };
const specOf = (r: Manifest) => r.spec as unknown as AIRouteSpec & { backends: Backend[]; routes: { model: string; backends: { backend: string }[] }[] };

const crd = parseYaml(readFileSync(`${ROOT}crds/airoute.dev_airoutes.yaml`, 'utf8')) as { spec: { versions: { schema: { openAPIV3Schema: never } }[] } };

describe.each(FILES)('examples/%s', (file) => {
  const ms = docs.get(file)!;

  test('every document is valid', async () => {
    expect(ms.length).toBeGreaterThan(0);
    for (const m of ms) expect(await validateManifest(m)).toEqual([]);
  });

  test('each AIRoute compiles with the operator’s compiler, every key resolved from a Secret in this file', () => {
    const secrets = new Map(
      ms
        .filter((m) => m.kind === 'Secret')
        .map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, { ...((s.stringData as Record<string, string>) ?? {}), ...Object.fromEntries(Object.entries((s.data as Record<string, string>) ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])) }]),
    );
    for (const r of ms.filter((m) => m.kind === 'AIRoute')) {
      const admitted = structuredClone(r) as unknown as JsonObject;
      expect(admit(admitted, crd.spec.versions[0]!.schema.openAPIV3Schema, ['spec']).errors).toEqual([]);
      const ns = r.metadata.namespace!;
      const view = new Map([...secrets].filter(([k]) => k.startsWith(`${ns}/`)).map(([k, v]) => [k.slice(ns.length + 1), v]));
      const out = compileRoute(admitted.spec as unknown as AIRouteSpec, view);
      expect(out.invalid, `${r.metadata.name}: Accepted`).toEqual([]);
      expect(out.unresolved, `${r.metadata.name}: ResolvedRefs`).toEqual([]);
      expect(out.config).toBeDefined();
    }
  });

  test('pods it creates meet the restricted Pod Security Standard', () => {
    for (const m of ms.filter((x) => podTemplate(x))) expect(explain(restricted(podTemplate(m)!)), m.metadata.name).toEqual([]);
  });
});

describe('the examples the install guide promises', () => {
  const uses = (pred: (b: Backend[]) => boolean) => routes.filter((r) => pred(specOf(r).backends));

  test('OpenAI primary with an Anthropic fallback, keys from Secrets', () => {
    const r = routes.filter((x) => specOf(x).routes.some((rt) => {
      const types = rt.backends.map((t) => specOf(x).backends.find((b) => b.name === t.backend)!.type);
      return types[0] === 'openai' && types.includes('anthropic');
    }));
    expect(r.length).toBeGreaterThan(0);
    for (const b of specOf(r[0]!).backends) expect(b.apiKey?.secretKeyRef).toBeDefined();
  });

  test('Azure OpenAI (with its api-version)', () => {
    const r = uses((bs) => bs.some((b) => b.type === 'azure-openai'));
    expect(r.length).toBeGreaterThan(0);
    for (const b of specOf(r[0]!).backends.filter((x) => x.type === 'azure-openai')) expect(b).toMatchObject({ baseURL: expect.stringMatching(/^https:\/\//), apiVersion: expect.any(String) });
  });

  test('vLLM and Ollama inside the cluster', () => {
    const inCluster = (b: Backend) => b.type === 'openai-compatible' && /\.svc(\.cluster\.local)?(:\d+)?\//.test(b.baseURL ?? '');
    const r = uses((bs) => bs.filter(inCluster).length >= 2);
    expect(r.length).toBeGreaterThan(0);
    const urls = specOf(r[0]!).backends.filter(inCluster).map((b) => b.baseURL);
    expect(urls.some((u) => u!.includes('vllm'))).toBe(true);
    expect(urls.some((u) => u!.includes('ollama') && u!.includes(':11434/v1'))).toBe(true);
  });

  test('an app Deployment annotated for injection, selected by examples/airoute.yaml (what the e2e suite applies)', () => {
    const app = docs.get('deployment.yaml')!.find((m) => m.kind === 'Deployment')!;
    const t = podTemplate(app)!;
    expect((t.metadata!.annotations as Obj)[INJECT_ANNOTATION]).toBe('true');
    const chat = docs.get('airoute.yaml')!.find((m) => m.kind === 'AIRoute')!;
    expect(t.metadata!.labels).toMatchObject((specOf(chat).podSelector as { matchLabels: Obj }).matchLabels);
  });

  test('AIRoutes of different examples select different pods (applying them all makes no Conflict)', () => {
    const selectors = routes.map((r) => `${r.metadata.namespace}:${JSON.stringify((specOf(r).podSelector as { matchLabels?: Obj }).matchLabels)}`);
    expect(new Set(selectors).size).toBe(selectors.length);
    const names = routes.map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
    // The same goes for Secrets: two files must not define one Secret differently.
    const secrets = all.filter((m) => m.kind === 'Secret').map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
    expect(new Set(secrets).size).toBe(secrets.length);
  });

  test('no real key in any example', () => {
    for (const s of all.filter((m) => m.kind === 'Secret')) for (const v of Object.values((s.stringData as Record<string, string>) ?? {})) expect(v).toMatch(/^replace-me/);
  });
});
