// A fake kubelet for the stand-in API server: a "pod" is a Pod object plus a real airoute sidecar
// (startSidecar: real HTTP servers, in-process) on loopback.
//
// Pods are made the way a cluster makes them: the pod template goes through the injector the
// webhook runs (operator/webhook/inject.ts, with the owner AIRoute the webhook would find), and
// the kubelet then runs what that spec says: it projects the sidecar's volumes (the admin token
// Secret, the `airoute-config` ConfigMap, the owner's Secrets) into files, optionally late, as the
// kubelet's volume sync is; for the projected ServiceAccount token it asks the API server for a
// token bound to the pod (TokenRequest) as the kubelet does; and it starts the sidecar with the
// spec's own arguments and environment (the push CA) mapped onto those files. The Pod says where the sidecar is: status.podIP 127.0.0.1 and the
// airoute.dev/admin-port annotation with the sidecar's admin port. It reports container restarts
// (initContainerStatuses: the sidecar is a native sidecar) and can take a sidecar off the network.
import { mkdir, mkdtemp, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { CoreV1Api } from '@kubernetes/client-node';
import pino from 'pino';
import { PushIdentity } from '../../operator/push/identity.ts';
import type { AIRoute } from '../../api/v1alpha1/airoute.ts';
import { SIDECAR_CONTAINER } from '../../operator/reconcile/pods.ts';
import { referencedSecretKeys } from '../../operator/reconcile/compile.ts';
import { claimOf, ownerOf } from '../../operator/reconcile/owner.ts';
import { DEFAULT_INJECTION, injectionPatch, type PodOwner } from '../../operator/webhook/inject.ts';
import type { SecretResolver } from '../../sidecar/config/runtime.ts';
import { startSidecar, type RunningSidecar } from '../../sidecar/start.ts';
import { jsonPatch, type StandInApiServer } from './api-server.ts';
import type { JsonObject } from './schema.ts';

export interface FakePod {
  namespace: string;
  name: string;
  sidecar?: RunningSidecar;
  adminPort: number;
  dataPort: number;
  restarts: number;
  /** Every config version this pod's sidecars accepted (pushed or from the snapshot), in order. */
  applied: number[];
  /** The spec as admitted. */
  spec: V1Pod;
}

export interface PodOptions {
  labels?: Record<string, string>;
  /** Sidecar-side policy for keys (lets a test make a sidecar reject a config). */
  resolveSecrets?: SecretResolver;
}

const b64 = (s: unknown) => Buffer.from(String(s), 'base64').toString('utf8');
/** Where the test operators keep their push CA (their Lease's namespace). */
export const PUSH_NAMESPACE = 'airoute-system';

export class FakeKubelet {
  private readonly api: StandInApiServer;
  private readonly dir: string;
  readonly pods = new Map<string, FakePod>();
  private readonly opts = new Map<string, PodOptions>();
  /** Delay before a changed Secret or ConfigMap reaches the mounted files. */
  volumeSyncDelayMs = 0;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(api: StandInApiServer, dir: string) {
    this.api = api;
    this.dir = dir;
    // Like the kubelet's volume managers: a changed Secret or ConfigMap reaches every pod mounting it.
    for (const kind of ['secrets', 'configmaps'] as const) {
      this.unsubscribe.push(
        api.store.subscribe(kind, (ev) => {
          const m = ev.object.metadata as JsonObject;
          const sync = () => {
            for (const p of this.pods.values()) if (p.namespace === m.namespace) void this.project(p);
          };
          if (this.volumeSyncDelayMs <= 0) return sync();
          const t = setTimeout(() => {
            this.timers.delete(t);
            sync();
          }, this.volumeSyncDelayMs);
          this.timers.add(t);
        }),
      );
    }
  }

  static async start(api: StandInApiServer): Promise<FakeKubelet> {
    return new FakeKubelet(api, await mkdtemp(join(tmpdir(), 'airoute-kubelet-')));
  }

  private podDir(p: { namespace: string; name: string }): string {
    return join(this.dir, p.namespace, p.name);
  }

  private sidecarSpec(p: FakePod): V1Container {
    return [...(p.spec.spec?.initContainers ?? []), ...(p.spec.spec?.containers ?? [])].find((c) => c.name === SIDECAR_CONTAINER)!;
  }

  /** Where a volume of the pod lives on this kubelet's disk. */
  private volumeDir(p: FakePod, volume: string): string {
    return join(this.podDir(p), 'volumes', volume);
  }

  private readonly projecting = new Map<FakePod, Promise<void>>();
  private generation = 0;

  /** Writes the files of every Secret/ConfigMap/projected volume the sidecar mounts, as they are
   *  now; one projection at a time per pod, in order. */
  private project(p: FakePod): Promise<void> {
    const next = (this.projecting.get(p) ?? Promise.resolve()).then(() => this.projectNow(p));
    this.projecting.set(p, next.catch(() => undefined));
    return next;
  }

  private async projectNow(p: FakePod): Promise<void> {
    const secret = (name: string) => this.api.get('secrets', p.namespace, name);
    const write = async (path: string, text: string) => {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, text);
    };
    const mounted = new Set((this.sidecarSpec(p).volumeMounts ?? []).map((m) => m.name));
    for (const v of (p.spec.spec?.volumes ?? []) as V1Volume[]) {
      if (!mounted.has(v.name)) continue;
      // As the kubelet does: the files go into a fresh directory, then the volume's path (a
      // symlink) is swapped to it in one rename, so a reader never sees a half-written volume;
      // keys removed from the object disappear with the old directory.
      const link = this.volumeDir(p, v.name);
      const root = `${link}..${++this.generation}`;
      await mkdir(root, { recursive: true });
      if (v.secret) {
        const data = (secret(v.secret.secretName!)?.data ?? {}) as Record<string, string>;
        for (const item of v.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }))) await write(join(root, item.path), data[item.key] ? b64(data[item.key]) : '');
      } else if (v.configMap) {
        const data = (this.api.get('configmaps', p.namespace, v.configMap.name!)?.data ?? {}) as Record<string, string>;
        for (const [k, text] of Object.entries(data)) await write(join(root, k), text);
      } else if (v.projected) {
        for (const src of v.projected.sources ?? []) {
          const sat = src.serviceAccountToken;
          if (sat) {
            const live = this.api.get('pods', p.namespace, p.name);
            const uid = String((live?.metadata as JsonObject | undefined)?.uid ?? '');
            const token = this.api.issueToken({ namespace: p.namespace, serviceAccount: p.spec.spec?.serviceAccountName ?? 'default', audiences: [sat.audience ?? ''], expirationSeconds: sat.expirationSeconds ?? 3600, pod: { name: p.name, uid } });
            await write(join(root, sat.path), token);
            continue;
          }
          if (!src.secret) continue;
          const data = (secret(src.secret.name!)?.data ?? {}) as Record<string, string>;
          for (const item of src.secret.items ?? []) if (data[item.key] !== undefined) await write(join(root, item.path), b64(data[item.key]));
        }
      }
      const previous = await readlink(link).catch(() => undefined);
      await symlink(root, `${root}.link`);
      await rename(`${root}.link`, link);
      if (previous) await rm(previous, { recursive: true, force: true });
    }
  }

  /** The sidecar's own arguments, with mount paths mapped onto this kubelet's files. */
  private async runSidecar(p: FakePod): Promise<RunningSidecar> {
    const o = this.opts.get(`${p.namespace}/${p.name}`) ?? {};
    const c = this.sidecarSpec(p);
    await this.project(p);
    const local = (path: string) => {
      const m = (c.volumeMounts ?? []).find((vm) => path === vm.mountPath || path.startsWith(`${vm.mountPath}/`));
      return m ? join(this.volumeDir(p, m.name), path.slice(m.mountPath.length)) : path;
    };
    const arg = (flag: string) => {
      const i = (c.args ?? []).indexOf(flag);
      return i >= 0 ? local(c.args![i + 1]!) : undefined;
    };
    const snapshot = arg('--config-snapshot');
    const secretsDir = arg('--secrets-dir');
    const identityTokenFile = arg('--identity-token-file');
    const pushCa = c.env?.find((e) => e.name === 'AIROUTE_PUSH_CA')?.value;
    return startSidecar({
      waitForPush: true,
      host: '127.0.0.1',
      port: p.dataPort,
      adminHost: '127.0.0.1',
      adminPort: p.adminPort,
      ...(pushCa ? { pushCa } : {}),
      ...(identityTokenFile ? { identityTokenFile } : {}),
      ...(snapshot ? { configSnapshot: snapshot, snapshotIntervalMs: 50 } : {}),
      ...(secretsDir ? { secretsDir } : {}),
      logger: pino({ level: 'silent' }),
      ...(o.resolveSecrets ? { resolveSecrets: o.resolveSecrets } : {}),
    });
  }

  /** The AIRoute the webhook would find for these labels right now. */
  ownerNow(namespace: string, labels: Record<string, string>): PodOwner | undefined {
    const routes = this.api.list('airoutes', namespace) as unknown as AIRoute[];
    const owner = ownerOf(labels, routes.map((r) => ({ ...claimOf(r), route: r })));
    return owner ? { route: owner.name, secrets: referencedSecretKeys(owner.route.spec) } : undefined;
  }

  /** Admits the Pod (the webhook's injection, with its owner) and starts its sidecar; resolves
   *  when the Pod reports Running. */
  async addPod(namespace: string, name: string, opts: PodOptions = {}): Promise<FakePod> {
    this.opts.set(`${namespace}/${name}`, opts);
    const labels = opts.labels ?? {};
    // The ports are picked by the first start (port 0), then fixed for the pod's life; the
    // injector is given the real admin port so the annotation and probes name it.
    const probe = await startSidecar({ waitForPush: true, port: 0, adminPort: 0, logger: pino({ level: 'silent' }) });
    const ports = { adminPort: probe.adminPort, dataPort: probe.dataPort };
    await probe.close();
    const template: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels, annotations: { 'airoute.dev/inject': 'true' } }, spec: { containers: [{ name: 'app', image: 'app' }] } };
    // The webhook injects with the push CA of an operator replica (which creates it on its start).
    const identity = new PushIdentity({ core: this.api.kubeConfig().makeApiClient(CoreV1Api), namespace: PUSH_NAMESPACE, logger: pino({ level: 'silent' }) });
    await identity.ensure();
    const ops = injectionPatch(template, { ...DEFAULT_INJECTION, adminPort: ports.adminPort, pushCa: identity.caCert }, this.ownerNow(namespace, labels))!;
    const spec = jsonPatch(structuredClone(template) as unknown as JsonObject, ops as unknown as JsonObject[]) as unknown as V1Pod;
    const pod: FakePod = { namespace, name, ...ports, restarts: 0, applied: [], spec };
    this.pods.set(`${namespace}/${name}`, pod);
    this.api.create('pods', spec as unknown as JsonObject);
    pod.sidecar = await this.runSidecar(pod);
    this.watchSwaps(pod);
    this.setStatus(pod, true);
    return pod;
  }

  private setStatus(pod: FakePod, running: boolean): void {
    const cur = this.api.get('pods', pod.namespace, pod.name);
    if (!cur) return;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.api.update(
      'pods',
      {
        ...cur,
        status: {
          phase: 'Running',
          podIP: '127.0.0.1',
          initContainerStatuses: [
            { name: SIDECAR_CONTAINER, ready: false, started: running, restartCount: pod.restarts, state: running ? { running: { startedAt: now } } : { waiting: { reason: 'CrashLoopBackOff' } } },
          ],
          containerStatuses: [{ name: 'app', ready: true, restartCount: 0, state: { running: { startedAt: '2025-01-01T00:00:00Z' } } }],
        },
      },
      { subresource: 'status' },
    );
  }

  /** Records every config the sidecar swapped in (a push it accepted, or its snapshot). */
  private watchSwaps(pod: FakePod): void {
    const inner = pod.sidecar!.sidecar;
    for (const v of inner.config ? [inner.config.version] : []) pod.applied.push(v);
    const swap = inner.swap.bind(inner);
    inner.swap = (c) => {
      pod.applied.push(c.version);
      swap(c);
    };
  }

  /** The sidecar process restarts: same pod, same ports, restartCount + 1; it comes back with what
   *  its mounted snapshot holds (if any), else with no config. */
  async restartSidecar(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`)!;
    await pod.sidecar?.close();
    pod.restarts += 1;
    pod.sidecar = await this.runSidecar(pod);
    this.watchSwaps(pod);
    this.setStatus(pod, true);
  }

  /** Takes the sidecar off the network without the Pod object noticing (a partition). */
  async partition(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`)!;
    await pod.sidecar?.close();
    delete pod.sidecar;
  }

  /** Brings a partitioned sidecar back on the same ports. It comes back as a fresh process while
   *  the Pod object still shows the old incarnation: only observing it tells the difference. */
  async heal(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`)!;
    pod.sidecar = await this.runSidecar(pod);
    this.watchSwaps(pod);
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`);
    await pod?.sidecar?.close();
    this.pods.delete(`${namespace}/${name}`);
    this.api.delete('pods', namespace, name);
  }

  async close(): Promise<void> {
    for (const u of this.unsubscribe) u();
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([...this.pods.values()].map((p) => p.sidecar?.close()));
    await Promise.all(this.projecting.values());
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}
