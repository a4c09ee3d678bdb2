// Every pod the product puts in a cluster meets the `restricted` Pod Security Standard: the
// chart's pod templates in every scenario, the example app, and the sidecar the operator's webhook
// injects (operator/webhook/inject.ts, called on a real pod template, with the settings the chart
// passes the operator).
import { beforeAll, describe, expect, test } from 'vitest';
import { CONFIG_VOLUME, DEFAULT_INJECTION, IDENTITY_VOLUME, injectionPatch, SECRETS_VOLUME, sidecarContainer, type InjectionSettings, type PodOwner } from '../../operator/webhook/inject.ts';
import { jsonPatch } from '../k8s/api-server.ts';
import type { JsonObject } from '../k8s/schema.ts';
import { describe as explain, restricted } from './pss.ts';
import { SCENARIOS, getTools, id, podTemplate, readManifests, render, type Manifest, type Obj } from './support.ts';
import { validateManifest } from './validate.ts';

const rendered = new Map<string, Manifest[]>();
beforeAll(async () => {
  await getTools();
  for (const s of SCENARIOS) rendered.set(s.name, await render(s));
}, 600_000);

/** The injector's settings as the chart configures the operator (flags on its Deployment). */
function settingsFromChart(ms: Manifest[]): InjectionSettings {
  const d = ms.find((m) => m.kind === 'Deployment')!;
  const c = ((((d.spec as Obj).template as Obj).spec as Obj).containers as Obj[])[0]!;
  const flag = (name: string) => (c.args as string[]).find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return { ...DEFAULT_INJECTION, pushCa: PUSH_CA, image: flag('sidecar-image')!, imagePullPolicy: flag('sidecar-image-pull-policy') as InjectionSettings['imagePullPolicy'], logLevel: flag('sidecar-log-level')! };
}

/** The operator's push CA (public; what the webhook puts in every sidecar). */
const PUSH_CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const SETTINGS: InjectionSettings = { ...DEFAULT_INJECTION, pushCa: PUSH_CA };
const OWNER: PodOwner = { route: 'chat', secrets: [{ name: 'llm-keys', key: 'openai' }] };

/** A pod as the API server would hand it to the webhook, from a workload's template. */
function podFrom(workload: Manifest): JsonObject {
  const t = podTemplate(workload)!;
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${workload.metadata.name}-abc12`, namespace: workload.metadata.namespace ?? 'default', ...structuredClone(t.metadata ?? {}) }, spec: structuredClone(t.spec) } as JsonObject;
}

function inject(pod: JsonObject, s: InjectionSettings, owner: PodOwner | undefined = OWNER): JsonObject {
  const ops = injectionPatch(pod as never, s, owner);
  if (!ops) throw new Error('the webhook did not inject');
  return jsonPatch(pod, ops as unknown as JsonObject[]);
}

describe('the chart’s pod templates', () => {
  test.each(SCENARIOS)('restricted: $name', (s) => {
    const pods = rendered.get(s.name)!.filter((m) => podTemplate(m));
    expect(pods.length).toBeGreaterThan(0);
    for (const m of pods) expect(explain(restricted(podTemplate(m)!)), id(m)).toEqual([]);
  });
});

describe('the injected sidecar', () => {
  const app = readManifests('examples/deployment.yaml').find((m) => m.kind === 'Deployment')!;

  test('the example app, before and after injection with the chart’s settings, is restricted and a valid Pod', async () => {
    const settings = settingsFromChart(rendered.get(SCENARIOS[0]!.name)!);
    expect(settings.image).toBe('ghcr.io/airoute/airoute-sidecar:0.1.0');
    const before = podFrom(app);
    expect(explain(restricted({ metadata: before.metadata as Obj, spec: before.spec as Obj }))).toEqual([]);
    const after = inject(before, settings);
    expect(((after.spec as Obj).containers as Obj[]).map((c) => c.name)).toEqual(['app']);
    // A native sidecar: the first init container, kept running (restartPolicy: Always).
    const sidecar = ((after.spec as Obj).initContainers as Obj[])[0]!;
    expect(sidecar).toMatchObject({ name: 'airoute-sidecar', image: settings.image, restartPolicy: 'Always' });
    expect((sidecar.args as string[])[0]).toBe('sidecar');
    expect(explain(restricted({ metadata: after.metadata as Obj, spec: after.spec as Obj }))).toEqual([]);
    expect(await validateManifest(after as unknown as Manifest)).toEqual([]);
  });

  test('the sidecar is restricted on its own, in a pod that sets nothing at pod level', () => {
    const pod = { metadata: { name: 'bare', annotations: { 'airoute.dev/inject': 'true' } }, spec: { containers: [] as Obj[] } };
    const after = inject({ apiVersion: 'v1', kind: 'Pod', ...pod } as unknown as JsonObject, SETTINGS);
    expect(explain(restricted({ metadata: after.metadata as Obj, spec: after.spec as Obj }))).toEqual([]);
    const c = sidecarContainer(SETTINGS);
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    // The data port stays on loopback, the admin port is the only one declared.
    expect(c.args).toEqual(expect.arrayContaining(['--host', '127.0.0.1']));
    expect(c.ports!.map((p) => p.containerPort)).toEqual([DEFAULT_INJECTION.adminPort]);
  });

  /** Whether a non-root container can read a file of a Secret/ConfigMap/projected volume, as the kubelet lays it out:
   *  owned by root, group fsGroup when the pod sets one, mode defaultMode (group bits kept). */
  function canReadSecret(pod: JsonObject, containerName: string, volumeName: string): boolean {
    const spec = pod.spec as Obj;
    const psc = (spec.securityContext as Obj | undefined) ?? {};
    const c = [...((spec.initContainers as Obj[] | undefined) ?? []), ...(spec.containers as Obj[])].find((x) => x.name === containerName)!;
    const csc = (c.securityContext as Obj | undefined) ?? {};
    const uid = (csc.runAsUser ?? psc.runAsUser) as number | undefined;
    const gid = (csc.runAsGroup ?? psc.runAsGroup) as number | undefined;
    const v = (spec.volumes as Obj[]).find((x) => x.name === volumeName)!;
    const vol = (v.secret ?? v.configMap ?? v.projected) as Obj;
    const mode = (vol.defaultMode as number | undefined) ?? 0o644;
    if (uid === 0) return true;
    if (mode & 0o004) return true;
    const fileGroup = (psc.fsGroup as number | undefined) ?? 0;
    const groups = [gid, psc.fsGroup, ...((psc.supplementalGroups as number[] | undefined) ?? [])];
    return groups.includes(fileGroup) && (mode & 0o040) !== 0;
  }

  const VOLUMES = [IDENTITY_VOLUME, CONFIG_VOLUME, SECRETS_VOLUME];

  test('the sidecar can read its identity token, its config snapshot and its Secrets in the example app (fsGroup 65532)', () => {
    const after = inject(podFrom(app), SETTINGS);
    for (const v of VOLUMES) expect(canReadSecret(after, 'airoute-sidecar', v), v).toBe(true);
  });

  // The volumes are mode 0444: in a pod without fsGroup the files are root-owned, and the sidecar
  // (UID 65532) must still be able to read them, or it can neither prove its pod nor start alone.
  test('in a pod without fsGroup the sidecar can read them too', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { 'airoute.dev/inject': 'true' } }, spec: { containers: [{ name: 'app', image: 'x' }] } };
    const after = inject(pod as unknown as JsonObject, SETTINGS);
    for (const v of VOLUMES) expect(canReadSecret(after, 'airoute-sidecar', v), v).toBe(true);
  });
});

describe('the checker itself (written from the PSS spec)', () => {
  const good = (): { metadata: Obj; spec: Obj } => ({
    metadata: { name: 'p' },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'c', image: 'i', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
      volumes: [{ name: 'v', emptyDir: {} }, { name: 's', secret: { secretName: 'x' } }],
    },
  });
  const c0 = (p: { spec: Obj }) => ((p.spec.containers as Obj[])[0]!.securityContext as Obj);

  test('a compliant pod has no violation', () => {
    expect(restricted(good())).toEqual([]);
  });

  const cases: [string, (p: { metadata: Obj; spec: Obj }) => void][] = [
    ['Host Namespaces', (p) => (p.spec.hostNetwork = true)],
    ['Host Namespaces', (p) => (p.spec.hostPID = true)],
    ['Host Namespaces', (p) => (p.spec.hostIPC = true)],
    ['HostPath Volumes', (p) => (p.spec.volumes as Obj[]).push({ name: 'h', hostPath: { path: '/' } })],
    ['Volume Types', (p) => (p.spec.volumes as Obj[]).push({ name: 'n', nfs: { server: 's', path: '/' } })],
    ['Privileged Containers', (p) => (c0(p).privileged = true)],
    ['Privilege Escalation', (p) => delete c0(p).allowPrivilegeEscalation],
    ['Running as Non-root', (p) => delete (p.spec.securityContext as Obj).runAsNonRoot],
    ['Running as Non-root', (p) => (c0(p).runAsNonRoot = false)],
    ['Running as Non-root user', (p) => (c0(p).runAsUser = 0)],
    ['Seccomp', (p) => delete (p.spec.securityContext as Obj).seccompProfile],
    ['Seccomp', (p) => (c0(p).seccompProfile = { type: 'Unconfined' })],
    ['Capabilities', (p) => (c0(p).capabilities = { drop: ['NET_RAW'] })],
    ['Capabilities', (p) => (c0(p).capabilities = { drop: ['ALL'], add: ['SYS_ADMIN'] })],
    ['Host Ports', (p) => ((p.spec.containers as Obj[])[0]!.ports = [{ containerPort: 80, hostPort: 80 }])],
    ['Host Probes / Lifecycle Hooks', (p) => ((p.spec.containers as Obj[])[0]!.livenessProbe = { httpGet: { host: '10.0.0.1', port: 80 } })],
    ['Sysctls', (p) => ((p.spec.securityContext as Obj).sysctls = [{ name: 'kernel.msgmax', value: '1' }])],
    ['/proc Mount Type', (p) => (c0(p).procMount = 'Unmasked')],
    ['SELinux', (p) => ((p.spec.securityContext as Obj).seLinuxOptions = { type: 'spc_t' })],
    ['AppArmor', (p) => (c0(p).appArmorProfile = { type: 'Unconfined' })],
    ['HostProcess', (p) => ((p.spec.securityContext as Obj).windowsOptions = { hostProcess: true })],
    ['Privilege Escalation', (p) => ((p.spec.initContainers = [{ name: 'init', image: 'i', securityContext: { capabilities: { drop: ['ALL'] } } }]))],
  ];
  test.each(cases)('flags %s', (control, mutate) => {
    const p = good();
    mutate(p);
    expect(restricted(p).map((v) => v.control)).toContain(control);
  });

  test('NET_BIND_SERVICE may be added; Localhost seccomp is allowed', () => {
    const p = good();
    c0(p).capabilities = { drop: ['ALL'], add: ['NET_BIND_SERVICE'] };
    (p.spec.securityContext as Obj).seccompProfile = { type: 'Localhost', localhostProfile: 'x.json' };
    expect(restricted(p)).toEqual([]);
  });
});
