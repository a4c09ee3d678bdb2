// Sidecar injection, as a pure function from a Pod to the JSON patch that adds the airoute sidecar.
//
// A native sidecar (Kubernetes 1.29+): the first init container, with restartPolicy: Always. So
// it starts before the app (and before any other init container), and the kubelet holds the next
// container back until its startup probe passes, i.e. until it has a config; it is stopped after
// the app's containers have exited, so it never cuts an app's request short on a rollout; and it
// does not keep a Job's pod running once the Job's containers are done.
// The sidecar container satisfies the `restricted` Pod Security Standard on its own (non-root,
// no privilege escalation, every capability dropped, RuntimeDefault seccomp, read-only root), so
// injecting it never makes a compliant pod non-compliant.
import type { V1Container, V1Pod, V1ResourceRequirements, V1Volume, V1VolumeProjection } from '@kubernetes/client-node';
import { SNAPSHOT_CONFIGMAP, snapshotKey, type SecretRef } from '../../api/v1alpha1/snapshot.ts';
import { DEFAULT_IDENTITY_TOKEN_FILE, IDENTITY_AUDIENCE } from '../../api/v1alpha1/push.ts';
import { ADMIN_PORT_ANNOTATION, INJECT_ANNOTATION, INJECTED_ANNOTATION, SIDECAR_CONTAINER, SIDECAR_LABEL } from '../reconcile/pods.ts';

export interface InjectionSettings {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  dataPort: number;
  adminPort: number;
  resources: V1ResourceRequirements;
  logLevel: string;
  /** UID/GID the sidecar runs as (non-root). */
  runAsUser: number;
  /** The push CA (PEM, public): the only issuer the sidecar takes pushes from. */
  pushCa: string;
}

export const IDENTITY_VOLUME = 'airoute-identity';
export const IDENTITY_MOUNT_DIR = DEFAULT_IDENTITY_TOKEN_FILE.slice(0, DEFAULT_IDENTITY_TOKEN_FILE.lastIndexOf('/'));
/** The projected token's life; the kubelet renews it at 80 %. */
export const IDENTITY_TOKEN_SECONDS = 3600;
export const CONFIG_VOLUME = 'airoute-config';
export const CONFIG_MOUNT_DIR = '/var/run/airoute/config';
export const SECRETS_VOLUME = 'airoute-secrets';
export const SECRETS_MOUNT_DIR = '/var/run/airoute/secrets';

/** The AIRoute that owns the pod being admitted (the oldest that selects it) and the Secrets its
 *  config refers to: mounted, so the sidecar can start from the snapshot without the operator. */
export interface PodOwner {
  route: string;
  secrets: SecretRef[];
}

export const DEFAULT_INJECTION: Omit<InjectionSettings, 'pushCa'> = {
  image: 'ghcr.io/airoute/airoute:latest',
  imagePullPolicy: 'IfNotPresent',
  dataPort: 4000,
  adminPort: 4001,
  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
  logLevel: 'info',
  runAsUser: 65532,
};

export type JsonPatchOp = { op: 'add'; path: string; value: unknown };

/** JSON Pointer escaping for map keys such as `airoute.dev/sidecar`. */
const esc = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

export function wantsInjection(pod: V1Pod): boolean {
  return pod.metadata?.annotations?.[INJECT_ANNOTATION] === 'true';
}

export function isInjected(pod: V1Pod): boolean {
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].some((c) => c.name === SIDECAR_CONTAINER);
}

/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_SECONDS = 30;

/** How long the sidecar drains on SIGTERM: the pod's grace period less a margin, so it exits on
 *  its own before the kubelet's SIGKILL (and at least 1 s). */
export function drainSeconds(pod: V1Pod | undefined): number {
  const grace = pod?.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  return Math.max(1, grace - 2);
}

export function sidecarContainer(s: InjectionSettings, pod?: V1Pod, owner?: PodOwner): V1Container {
  return {
    name: SIDECAR_CONTAINER,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    // A native sidecar: an init container the kubelet keeps running (and restarts) for the pod's life.
    restartPolicy: 'Always',
    // The image's entrypoint is the `airoute` CLI. The data port stays on loopback (only the app
    // talks to it); the admin port binds the pod IP so the operator can push.
    args: [
      'sidecar',
      '--wait-for-push',
      '--host', '127.0.0.1',
      '--port', String(s.dataPort),
      '--admin-host', '$(POD_IP)',
      '--admin-port', String(s.adminPort),
      '--identity-token-file', DEFAULT_IDENTITY_TOKEN_FILE,
      '--log-level', s.logLevel,
      ...(owner ? ['--config-snapshot', `${CONFIG_MOUNT_DIR}/${snapshotKey(owner.route)}`, '--secrets-dir', SECRETS_MOUNT_DIR] : []),
    ],
    env: [
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      // A small young generation keeps a sidecar in every pod light (see the Dockerfile); NODE_OPTIONS
      // too, so it holds whatever entrypoint the image has.
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=8' },
      { name: 'AIROUTE_DRAIN_TIMEOUT', value: `${drainSeconds(pod)}s` },
      // Public: the CA of the operator's client certificate. With it the admin port speaks TLS and
      // takes pushes from the operator only.
      { name: 'AIROUTE_PUSH_CA', value: s.pushCa },
    ],
    ports: [{ name: 'airoute-admin', containerPort: s.adminPort, protocol: 'TCP' }],
    // The app's containers start only once this passes: the sidecar has a config (10 minutes, then
    // the kubelet restarts it and it tries again).
    // (The kubelet does not check a probe's certificate: HTTPS probes work against the sidecar's own.)
    startupProbe: { httpGet: { path: '/readyz', port: s.adminPort, scheme: 'HTTPS' }, periodSeconds: 1, failureThreshold: 600 },
    // Not Ready without a config, and not Ready from the first moment of a drain.
    readinessProbe: { httpGet: { path: '/readyz', port: s.adminPort, scheme: 'HTTPS' }, periodSeconds: 2, failureThreshold: 1 },
    livenessProbe: { httpGet: { path: '/healthz', port: s.adminPort, scheme: 'HTTPS' }, periodSeconds: 10, failureThreshold: 3 },
    resources: s.resources,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      runAsNonRoot: true,
      runAsUser: s.runAsUser,
      runAsGroup: s.runAsUser,
      readOnlyRootFilesystem: true,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: IDENTITY_VOLUME, mountPath: IDENTITY_MOUNT_DIR, readOnly: true },
      ...(owner
        ? [
            { name: CONFIG_VOLUME, mountPath: CONFIG_MOUNT_DIR, readOnly: true },
            { name: SECRETS_VOLUME, mountPath: SECRETS_MOUNT_DIR, readOnly: true },
          ]
        : []),
    ],
  };
}

/** The namespace's snapshot ConfigMap (optional: it may not exist yet; the kubelet updates the
 *  mounted files when it changes) and the owner's Secrets, as `<secret>/<key>` (each optional, so
 *  a Secret created later does not hold the pod back). Only the sidecar mounts them. */
export function ownerVolumes(owner: PodOwner): V1Volume[] {
  const bySecret = new Map<string, string[]>();
  for (const r of owner.secrets) bySecret.set(r.name, [...(bySecret.get(r.name) ?? []), r.key]);
  const sources: V1VolumeProjection[] = [...bySecret].map(([name, keys]) => ({ secret: { name, optional: true, items: keys.map((key) => ({ key, path: `${name}/${key}` })) } }));
  return [
    { name: CONFIG_VOLUME, configMap: { name: SNAPSHOT_CONFIGMAP, optional: true, defaultMode: 0o444 } },
    { name: SECRETS_VOLUME, projected: { sources, defaultMode: 0o444 } },
  ];
}

/** The pod's identity toward the operator: a ServiceAccount token the kubelet binds to this pod
 *  (its name and uid are in it) for the airoute-operator audience only, renewed before it expires.
 *  A whole-directory mount (not subPath), so the renewal reaches the file. */
export function identityVolume(): V1Volume {
  return { name: IDENTITY_VOLUME, projected: { sources: [{ serviceAccountToken: { audience: IDENTITY_AUDIENCE, expirationSeconds: IDENTITY_TOKEN_SECONDS, path: 'token' } }], defaultMode: 0o444 } };
}

/** The patch that injects the sidecar, or undefined when the pod is not asking or already has it. */
export function injectionPatch(pod: V1Pod, s: InjectionSettings, owner?: PodOwner): JsonPatchOp[] | undefined {
  if (!wantsInjection(pod) || isInjected(pod)) return undefined;
  const container = sidecarContainer(s, pod, owner);
  // First of the init containers, so it serves the others too.
  const ops: JsonPatchOp[] = pod.spec?.initContainers?.length
    ? [{ op: 'add', path: '/spec/initContainers/0', value: container }]
    : [{ op: 'add', path: '/spec/initContainers', value: [container] }];
  const existing = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  const wanted = [identityVolume(), ...(owner ? ownerVolumes(owner) : [])].filter((v) => !existing.has(v.name));
  if (!pod.spec?.volumes) ops.push({ op: 'add', path: '/spec/volumes', value: wanted });
  else for (const v of wanted) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });
  const labels = { [SIDECAR_LABEL]: 'injected' };
  const annotations = { [INJECTED_ANNOTATION]: 'true', [ADMIN_PORT_ANNOTATION]: String(s.adminPort) };
  for (const [field, values] of [['labels', labels], ['annotations', annotations]] as const) {
    if (!pod.metadata?.[field]) ops.push({ op: 'add', path: `/metadata/${field}`, value: values });
    else for (const [k, v] of Object.entries(values)) ops.push({ op: 'add', path: `/metadata/${field}/${esc(k)}`, value: v });
  }
  return ops;
}
