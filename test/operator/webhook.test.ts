// Sidecar injection: the patch (idempotent, restricted-PSS, loopback data port, admin port on the
// pod IP, readiness on /readyz), the HTTPS AdmissionReview endpoint served by the operator, and
// both failure policies.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OperatorMetrics } from '../../operator/metrics.ts';
import { DEFAULT_INJECTION, injectionPatch, type InjectionSettings } from '../../operator/webhook/inject.ts';
import { review, startWebhook, type AdmissionReview, type FailurePolicy } from '../../operator/webhook/server.ts';
import { jsonPatch } from '../k8s/api-server.ts';
import { selfSignedCert } from '../k8s/cert.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { airoute, demoSpec, eventually, testCluster } from './harness.ts';

/** The injector's settings with a push CA, as the operator hands them to its webhook. */
const SETTINGS: InjectionSettings = { ...DEFAULT_INJECTION, pushCa: selfSignedCert('airoute push CA').cert };

const appPod = (annotations: Record<string, string> = { 'airoute.dev/inject': 'true' }): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'app-', namespace: 'team-a', annotations },
  spec: { containers: [{ name: 'app', image: 'app:1' }] },
});

const patched = (pod: V1Pod): V1Pod => {
  const ops = injectionPatch(pod, SETTINGS);
  return ops ? (jsonPatch(structuredClone(pod) as unknown as JsonObject, ops as unknown as JsonObject[]) as unknown as V1Pod) : pod;
};

/** The `restricted` Pod Security Standard's container-level checks (v1.30 profile). */
function restrictedViolations(c: V1Container): string[] {
  const sc = c.securityContext ?? {};
  const out: string[] = [];
  if (sc.privileged) out.push('privileged');
  if (sc.allowPrivilegeEscalation !== false) out.push('allowPrivilegeEscalation != false');
  if (!sc.capabilities?.drop?.includes('ALL')) out.push('capabilities must drop ALL');
  if ((sc.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')) out.push('capabilities added');
  if (sc.runAsNonRoot !== true) out.push('runAsNonRoot != true');
  if (sc.runAsUser === 0) out.push('runAsUser 0');
  if (!['RuntimeDefault', 'Localhost'].includes(sc.seccompProfile?.type ?? '')) out.push('seccompProfile');
  if (c.ports?.some((p) => p.hostPort)) out.push('hostPort');
  return out;
}

describe('injection patch', () => {
  test('adds a native sidecar: first init container, restartPolicy Always, a startup probe so the app starts once it has a config', () => {
    const pod = patched({ ...appPod(), spec: { ...appPod().spec!, initContainers: [{ name: 'migrate', image: 'm' }] } });
    expect(pod.spec!.containers.map((c) => c.name)).toEqual(['app']);
    expect(pod.spec!.initContainers!.map((c) => c.name)).toEqual(['airoute-sidecar', 'migrate']);
    const sc = pod.spec!.initContainers![0]!;
    expect(sc.restartPolicy).toBe('Always');
    expect(sc.startupProbe).toMatchObject({ httpGet: { path: '/readyz', port: 4001 }, periodSeconds: 1 });
    expect(sc.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 4001 } });
    expect(patched(appPod()).spec!.initContainers!.map((c) => c.name)).toEqual(['airoute-sidecar']);
  });

  test('the drain deadline comes from the pod’s grace period, less a margin so the sidecar exits before SIGKILL', () => {
    const env = (p: V1Pod) => patched(p).spec!.initContainers![0]!.env!.find((e) => e.name === 'AIROUTE_DRAIN_TIMEOUT')!.value;
    expect(env(appPod())).toBe('28s'); // the default 30 s
    expect(env({ ...appPod(), spec: { ...appPod().spec!, terminationGracePeriodSeconds: 120 } })).toBe('118s');
    expect(env({ ...appPod(), spec: { ...appPod().spec!, terminationGracePeriodSeconds: 0 } })).toBe('1s');
  });

  test('adds the sidecar: data port on loopback, admin port on the pod IP over TLS, the push CA, a pod-bound identity token, restricted security context', () => {
    const pod = patched(appPod());
    const sc = pod.spec!.initContainers!.find((c) => c.name === 'airoute-sidecar')!;
    expect(sc.args).toEqual(expect.arrayContaining(['sidecar', '--wait-for-push', '--host', '127.0.0.1', '--port', '4000', '--admin-host', '$(POD_IP)', '--admin-port', '4001', '--identity-token-file', '/var/run/airoute/identity/token']));
    expect(sc.args).not.toContain('--admin-token-file'); // no shared token: pushes need the operator's certificate
    expect(sc.env).toContainEqual({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
    expect(sc.env).toContainEqual({ name: 'AIROUTE_PUSH_CA', value: SETTINGS.pushCa });
    expect(sc.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 4001, scheme: 'HTTPS' } });
    expect(sc.resources).toEqual(SETTINGS.resources);
    expect(restrictedViolations(sc)).toEqual([]);
    expect(sc.securityContext!.readOnlyRootFilesystem).toBe(true);
    // The identity: a token the kubelet binds to this pod, for the operator's audience only, renewed hourly.
    expect(pod.spec!.volumes).toEqual([
      { name: 'airoute-identity', projected: { sources: [{ serviceAccountToken: { audience: 'airoute-operator', expirationSeconds: 3600, path: 'token' } }], defaultMode: 0o444 } },
    ]);
    expect(sc.volumeMounts).toEqual([{ name: 'airoute-identity', mountPath: '/var/run/airoute/identity', readOnly: true }]);
    expect(pod.metadata!.labels).toEqual({ 'airoute.dev/sidecar': 'injected' });
    expect(pod.metadata!.annotations).toMatchObject({ 'airoute.dev/inject': 'true', 'airoute.dev/injected': 'true', 'airoute.dev/admin-port': '4001' });
  });

  test('with an owner AIRoute: its snapshot (the namespace ConfigMap) and its Secrets are mounted in the sidecar only, each optional', () => {
    const ops = injectionPatch(appPod(), SETTINGS, { route: 'chat', secrets: [{ name: 'keys', key: 'openai' }, { name: 'keys', key: 'anthropic' }, { name: 'hooks', key: 'signing' }] })!;
    const pod = jsonPatch(structuredClone(appPod()) as unknown as JsonObject, ops as unknown as JsonObject[]) as unknown as V1Pod;
    const sc = pod.spec!.initContainers![0]!;
    expect(sc.args).toEqual(expect.arrayContaining(['--config-snapshot', '/var/run/airoute/config/chat.json', '--secrets-dir', '/var/run/airoute/secrets']));
    expect(sc.volumeMounts!.map((m) => [m.name, m.mountPath, m.readOnly])).toEqual(
      expect.arrayContaining([
        ['airoute-config', '/var/run/airoute/config', true],
        ['airoute-secrets', '/var/run/airoute/secrets', true],
      ]),
    );
    const vol = (n: string) => pod.spec!.volumes!.find((v) => v.name === n)!;
    expect(vol('airoute-config').configMap).toEqual({ name: 'airoute-config', optional: true, defaultMode: 0o444 });
    expect(vol('airoute-secrets').projected!.sources).toEqual([
      { secret: { name: 'keys', optional: true, items: [{ key: 'openai', path: 'keys/openai' }, { key: 'anthropic', path: 'keys/anthropic' }] } },
      { secret: { name: 'hooks', optional: true, items: [{ key: 'signing', path: 'hooks/signing' }] } },
    ]);
    expect(pod.spec!.containers[0]!.volumeMounts).toBeUndefined(); // the app never sees them
    // No owner (no AIRoute selects the pod yet): nothing mounted; the sidecar waits for a push.
    expect(patched(appPod()).spec!.initContainers![0]!.args).not.toContain('--config-snapshot');
  });

  test('idempotent: an injected pod is left unchanged; pods that do not ask are untouched', () => {
    expect(injectionPatch(patched(appPod()), SETTINGS)).toBeUndefined();
    expect(injectionPatch(appPod({}), SETTINGS)).toBeUndefined();
    expect(injectionPatch(appPod({ 'airoute.dev/inject': 'false' }), SETTINGS)).toBeUndefined();
  });

  test('existing labels, annotations and volumes are kept (escaped JSON pointers)', () => {
    const pod = appPod();
    pod.metadata!.labels = { app: 'chat' };
    pod.spec!.volumes = [{ name: 'data', emptyDir: {} }];
    const out = patched(pod);
    expect(out.metadata!.labels).toEqual({ app: 'chat', 'airoute.dev/sidecar': 'injected' });
    expect(out.spec!.volumes!.map((v) => v.name)).toEqual(['data', 'airoute-identity']);
  });
});

describe('AdmissionReview over HTTPS', () => {
  let dir: string;
  let ca: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airoute-webhook-'));
    const { cert, key } = selfSignedCert();
    ca = cert;
    await writeFile(join(dir, 'tls.crt'), cert);
    await writeFile(join(dir, 'tls.key'), key);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const reviewOf = (pod: V1Pod, uid = 'u-1'): AdmissionReview => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'team-a', operation: 'CREATE', object: pod },
  });

  const post = async (port: number, body: AdmissionReview) => {
    const res = await request(`https://localhost:${port}/mutate`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, dispatcher: new Agent({ connect: { ca } }) });
    return (await res.body.json()) as AdmissionReview;
  };

  test('the operator serves the webhook over TLS and answers with a JSONPatch carrying its push CA; no Secret is created', async () => {
    const c = await testCluster();
    try {
      const op = await c.operator({ webhook: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), host: '127.0.0.1', port: 0, settings: SETTINGS, failurePolicy: 'Fail' } });
      const out = await post(op.webhookPort!, reviewOf(appPod()));
      expect(out.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
      const ops = JSON.parse(Buffer.from(out.response!.patch!, 'base64').toString('utf8')) as { path: string }[];
      expect(ops.map((o) => o.path)).toContain('/spec/initContainers');
      // The push CA the operator created in its namespace is what the sidecar is told to trust.
      const caPem = Buffer.from(String((c.api.get('secrets', 'airoute-system', 'airoute-push-ca')!.data as JsonObject)['ca.crt']), 'base64').toString('utf8');
      const sidecar = (ops as unknown as { path: string; value: V1Container[] }[]).find((o) => o.path === '/spec/initContainers')!.value[0]!;
      expect(sidecar.env).toContainEqual({ name: 'AIROUTE_PUSH_CA', value: caPem });
      expect(c.api.list('secrets', 'team-a')).toEqual([]);
      // Already injected → allowed, no patch.
      const again = await post(op.webhookPort!, reviewOf(patched(appPod()), 'u-2'));
      expect(again.response).toEqual({ uid: 'u-2', allowed: true });
      // An AIRoute selects the pod: the webhook (from its informer cache) mounts that route's snapshot.
      c.api.create('airoutes', airoute('team-a', 'chat', demoSpec('chat', 'chat')));
      const labelled = appPod();
      labelled.metadata!.labels = { app: 'chat' };
      await eventually(
        async () => JSON.parse(Buffer.from((await post(op.webhookPort!, reviewOf(labelled, 'u-3'))).response!.patch!, 'base64').toString('utf8')) as { value?: { args?: string[] }[] },
        (ops) => JSON.stringify(ops).includes('/var/run/airoute/config/chat.json'),
        5000,
        'the owner AIRoute in the webhook’s cache',
      );
    } finally {
      await c.close();
    }
  });

  test.each<[FailurePolicy, unknown]>([
    ['Fail', { allowed: false, status: { code: 500, message: 'airoute sidecar injection failed: API server unavailable' } }],
    ['Ignore', { allowed: true, warnings: ['airoute sidecar injection failed: API server unavailable; admitted without the sidecar (failure policy Ignore)'] }],
  ])('the owner AIRoute cannot be looked up, failure policy %s', async (failurePolicy, want) => {
    const hook = await startWebhook({
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      host: '127.0.0.1',
      port: 0,
      settings: SETTINGS,
      failurePolicy,
      ownerOf: () => {
        throw new Error('API server unavailable');
      },
      logger: pino({ level: 'silent' }),
      metrics: new OperatorMetrics(),
    });
    try {
      const out = await post(hook.port, reviewOf(appPod()));
      expect(out.response).toEqual({ uid: 'u-1', ...(want as object) });
    } finally {
      await hook.close();
    }
  });

  test('a dry run gets the same patch as the real admission (the webhook has no side effects: sideEffects None)', async () => {
    const o = { settings: SETTINGS, failurePolicy: 'Fail' as const, logger: pino({ level: 'silent' }), metrics: new OperatorMetrics() };
    const dry = await review({ ...reviewOf(appPod()), request: { ...reviewOf(appPod()).request!, dryRun: true } }, o);
    const real = await review(reviewOf(appPod()), o);
    expect(dry.response!.allowed).toBe(true);
    expect(dry.response!.patch).toBe(real.response!.patch);
  });
});
