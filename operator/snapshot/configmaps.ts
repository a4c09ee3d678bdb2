// Writes each AIRoute's config snapshot (api/v1alpha1/snapshot.ts) into its namespace's
// `airoute-config` ConfigMap, one key per AIRoute, so a pod started or restarted while the operator
// is down starts from the last config the operator produced for it. No secret value is ever
// written: the snapshot holds secretKeyRefs, the pod has those Secrets mounted.
//
// One ConfigMap per namespace so RBAC can limit get and update to that one name. The operator
// reads it by name (no informer, no list of the cluster's ConfigMaps) and remembers what it wrote;
// a 409 (another replica, or a human, wrote meanwhile) re-reads it and tries again.
import type { CoreV1Api, V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { SNAPSHOT_CONFIGMAP, snapshotKey, type ConfigSnapshot } from '../../api/v1alpha1/snapshot.ts';
import { errorMessage, statusCode } from '../log.ts';

/** A ConfigMap holds at most 1 MiB; stay clear of it. */
export const MAX_SNAPSHOT_BYTES = 900 * 1024;

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'airoute-operator' } as const;

export class SnapshotTooLarge extends Error {}

export class ConfigSnapshots {
  private readonly core: CoreV1Api;
  private readonly logger: Logger;
  /** The ConfigMap as last read or written, per namespace (null: known not to exist). */
  private readonly known = new Map<string, V1ConfigMap | null>();

  constructor(core: CoreV1Api, logger: Logger) {
    this.core = core;
    this.logger = logger;
  }

  private async read(namespace: string): Promise<V1ConfigMap | null> {
    const cached = this.known.get(namespace);
    if (cached !== undefined) return cached;
    try {
      const cm = await this.core.readNamespacedConfigMap({ namespace, name: SNAPSHOT_CONFIGMAP });
      this.known.set(namespace, cm);
      return cm;
    } catch (err) {
      if (statusCode(err) === 404) {
        this.known.set(namespace, null);
        return null;
      }
      throw new Error(`reading ConfigMap ${namespace}/${SNAPSHOT_CONFIGMAP}: ${errorMessage(err)}`);
    }
  }

  /** Sets (or, with `undefined`, removes) one AIRoute's key; no write when nothing changes. */
  private async set(namespace: string, route: string, text: string | undefined): Promise<void> {
    const key = snapshotKey(route);
    for (let attempt = 0; ; attempt++) {
      const cm = await this.read(namespace);
      if ((cm?.data?.[key] ?? undefined) === text) return;
      if (!cm && text === undefined) return;
      const data = { ...(cm?.data ?? {}) };
      if (text === undefined) delete data[key];
      else data[key] = text;
      const size = Object.entries(data).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v), 0);
      if (size > MAX_SNAPSHOT_BYTES) throw new SnapshotTooLarge(`the config snapshots of namespace ${namespace} would take ${size} bytes (limit ${MAX_SNAPSHOT_BYTES}); pods restarted while the operator is down will wait for it`);
      try {
        const written = cm
          ? await this.core.replaceNamespacedConfigMap({ namespace, name: SNAPSHOT_CONFIGMAP, body: { ...cm, data } })
          : await this.core.createNamespacedConfigMap({
              namespace,
              body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: SNAPSHOT_CONFIGMAP, namespace, labels: { ...MANAGED_BY, 'app.kubernetes.io/component': 'config-snapshot' } }, data },
            });
        this.known.set(namespace, written);
        return;
      } catch (err) {
        const code = statusCode(err);
        this.known.delete(namespace);
        if ((code === 409 || code === 404) && attempt < 3) continue;
        throw new Error(`writing ConfigMap ${namespace}/${SNAPSHOT_CONFIGMAP}: ${errorMessage(err)}`);
      }
    }
  }

  async write(namespace: string, route: string, doc: ConfigSnapshot): Promise<void> {
    await this.set(namespace, route, `${JSON.stringify(doc)}\n`);
  }

  async remove(namespace: string, route: string): Promise<void> {
    await this.set(namespace, route, undefined);
    this.logger.debug({ namespace, route }, 'removed config snapshot');
  }

  /** Forget what was read (a drift check: someone may have edited it). */
  forget(): void {
    this.known.clear();
  }
}
