// How the operator reads a Pod: is it a target, where is its sidecar's admin port, and which
// incarnation of the sidecar is it (so a restart is noticed without asking the sidecar).
import type { V1Pod } from '@kubernetes/client-node';

export const SIDECAR_CONTAINER = 'airoute-sidecar';
/** Label the webhook puts on injected pods; the pod informer watches only pods that have it. */
export const SIDECAR_LABEL = 'airoute.dev/sidecar';
/** Annotation naming the sidecar's admin port (the webhook sets it; the operator honours it). */
export const ADMIN_PORT_ANNOTATION = 'airoute.dev/admin-port';
export const INJECT_ANNOTATION = 'airoute.dev/inject';
export const INJECTED_ANNOTATION = 'airoute.dev/injected';
export const DEFAULT_ADMIN_PORT = 4001;
export const DEFAULT_DATA_PORT = 4000;

export interface PodFacts {
  key: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  injected: boolean;
  /** Present once the pod has an IP and its sidecar container is not known to be down. */
  address?: string;
  incarnation: string;
}

/** Pods that will never run again (or are going away) are not targets. */
export function isLive(pod: V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed';
}

export function podFacts(pod: V1Pod): PodFacts {
  const m = pod.metadata ?? {};
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const injected = containers.some((c) => c.name === SIDECAR_CONTAINER);
  const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
  const cs = statuses.find((s) => s.name === SIDECAR_CONTAINER);
  const restarts = cs?.restartCount ?? 0;
  const port = Number(m.annotations?.[ADMIN_PORT_ANNOTATION] ?? DEFAULT_ADMIN_PORT);
  const ip = pod.status?.podIP;
  // Waiting or terminated: nothing listens; its next start shows up as a pod update.
  const down = cs !== undefined && cs.state !== undefined && cs.state.running === undefined;
  const host = ip && ip.includes(':') ? `[${ip}]` : ip;
  return {
    key: `${m.namespace}/${m.name}`,
    name: m.name ?? '',
    uid: m.uid ?? '',
    labels: m.labels ?? {},
    injected,
    // The admin port speaks TLS (the sidecar's own certificate, pinned once it proved its pod).
    ...(ip && !down && Number.isInteger(port) && port > 0 ? { address: `https://${host}:${port}` } : {}),
    incarnation: `${m.uid ?? ''}/${restarts}/${ip ?? ''}:${port}`,
  };
}
