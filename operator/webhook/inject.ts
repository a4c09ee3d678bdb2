// Sidecar injection, as a pure function from a Pod to the JSON patch that adds the airoute sidecar.
// The sidecar container satisfies the `restricted` Pod Security Standard on its own (non-root,
// no privilege escalation, every capability dropped, RuntimeDefault seccomp, read-only root), so
// injecting it never makes a compliant pod non-compliant.
import type { V1Container, V1Pod, V1ResourceRequirements, V1Volume } from '@kubernetes/client-node';
import { TOKEN_KEY, TOKEN_SECRET } from '../push/token.ts';
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
}

export const TOKEN_VOLUME = 'airoute-admin-token';
export const TOKEN_MOUNT_DIR = '/var/run/airoute/admin';

export const DEFAULT_INJECTION: InjectionSettings = {
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

export function sidecarContainer(s: InjectionSettings): V1Container {
  return {
    name: SIDECAR_CONTAINER,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    // The image's entrypoint is the `airoute` CLI. The data port stays on loopback (only the app
    // talks to it); the admin port binds the pod IP so the operator can push.
    args: [
      'sidecar',
      '--wait-for-push',
      '--host', '127.0.0.1',
      '--port', String(s.dataPort),
      '--admin-host', '$(POD_IP)',
      '--admin-port', String(s.adminPort),
      '--admin-token-file', `${TOKEN_MOUNT_DIR}/${TOKEN_KEY}`,
      '--log-level', s.logLevel,
    ],
    env: [
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      // A small young generation keeps a sidecar in every pod light (see the Dockerfile); NODE_OPTIONS
      // too, so it holds whatever entrypoint the image has.
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=8 --max-old-space-size-percentage=40' },
    ],
    ports: [{ name: 'airoute-admin', containerPort: s.adminPort, protocol: 'TCP' }],
    // Not Ready until the operator has pushed a config: no app traffic meets an unconfigured proxy.
    readinessProbe: { httpGet: { path: '/readyz', port: s.adminPort }, periodSeconds: 2, failureThreshold: 2 },
    livenessProbe: { httpGet: { path: '/healthz', port: s.adminPort }, periodSeconds: 10, failureThreshold: 3 },
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
    volumeMounts: [{ name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_DIR, readOnly: true }],
  };
}

export function tokenVolume(): V1Volume {
  // A whole-directory Secret mount (not subPath), so the kubelet updates the file on rotation.
  return { name: TOKEN_VOLUME, secret: { secretName: TOKEN_SECRET, items: [{ key: TOKEN_KEY, path: TOKEN_KEY }], defaultMode: 0o444 } };
}

/** The patch that injects the sidecar, or undefined when the pod is not asking or already has it. */
export function injectionPatch(pod: V1Pod, s: InjectionSettings): JsonPatchOp[] | undefined {
  if (!wantsInjection(pod) || isInjected(pod)) return undefined;
  const ops: JsonPatchOp[] = [{ op: 'add', path: '/spec/containers/-', value: sidecarContainer(s) }];
  const volumes = pod.spec?.volumes;
  if (!volumes) ops.push({ op: 'add', path: '/spec/volumes', value: [tokenVolume()] });
  else if (!volumes.some((v) => v.name === TOKEN_VOLUME)) ops.push({ op: 'add', path: '/spec/volumes/-', value: tokenVolume() });
  const labels = { [SIDECAR_LABEL]: 'injected' };
  const annotations = { [INJECTED_ANNOTATION]: 'true', [ADMIN_PORT_ANNOTATION]: String(s.adminPort) };
  for (const [field, values] of [['labels', labels], ['annotations', annotations]] as const) {
    if (!pod.metadata?.[field]) ops.push({ op: 'add', path: `/metadata/${field}`, value: values });
    else for (const [k, v] of Object.entries(values)) ops.push({ op: 'add', path: `/metadata/${field}/${esc(k)}`, value: v });
  }
  return ops;
}
