// A fake kubelet for the stand-in API server: a "pod" is a Pod object plus a real airoute sidecar
// (startSidecar: real HTTP servers, in-process) on loopback. The Pod says where the sidecar is:
// status.podIP 127.0.0.1 and the annotation airoute.dev/admin-port with the sidecar's admin port
// (the operator honours that annotation; the webhook sets it in a cluster). Like the kubelet, it
// projects the namespace's admin token Secret into a file the sidecar reads (optionally late, as
// the kubelet's Secret volume sync is), reports container restarts in status, and can take a
// sidecar off the network.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ADMIN_PORT_ANNOTATION, SIDECAR_CONTAINER, SIDECAR_LABEL } from '../../operator/reconcile/pods.ts';
import { TOKEN_KEY, TOKEN_SECRET } from '../../operator/push/token.ts';
import type { SecretResolver } from '../../sidecar/config/runtime.ts';
import { startSidecar, type RunningSidecar } from '../../sidecar/start.ts';
import type { StandInApiServer } from './api-server.ts';
import type { JsonObject } from './schema.ts';

export interface FakePod {
  namespace: string;
  name: string;
  sidecar?: RunningSidecar;
  adminPort: number;
  dataPort: number;
  restarts: number;
  /** Every config version this pod's sidecars accepted, in order. */
  applied: number[];
}

export interface PodOptions {
  labels?: Record<string, string>;
  /** Sidecar-side policy for keys (lets a test make a sidecar reject a config). */
  resolveSecrets?: SecretResolver;
}

export class FakeKubelet {
  private readonly api: StandInApiServer;
  private readonly dir: string;
  readonly pods = new Map<string, FakePod>();
  private readonly opts: Map<string, PodOptions> = new Map();
  /** Delay before a changed token Secret reaches the mounted file. */
  tokenSyncDelayMs = 0;
  private readonly unsubscribe: () => void;
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(api: StandInApiServer, dir: string) {
    this.api = api;
    this.dir = dir;
    this.unsubscribe = api.store.subscribe('secrets', (ev) => {
      const m = ev.object.metadata as JsonObject;
      if (m.name !== TOKEN_SECRET) return;
      const write = () => void this.projectToken(String(m.namespace));
      if (this.tokenSyncDelayMs > 0) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          write();
        }, this.tokenSyncDelayMs);
        this.timers.add(t);
      } else write();
    });
  }

  static async start(api: StandInApiServer): Promise<FakeKubelet> {
    return new FakeKubelet(api, await mkdtemp(join(tmpdir(), 'airoute-kubelet-')));
  }

  tokenFile(namespace: string): string {
    return join(this.dir, `${namespace}.token`);
  }

  private async projectToken(namespace: string): Promise<void> {
    const s = this.api.get('secrets', namespace, TOKEN_SECRET);
    const data = (s?.data ?? {}) as Record<string, string>;
    const token = data[TOKEN_KEY] ? Buffer.from(data[TOKEN_KEY], 'base64').toString('utf8') : '';
    await writeFile(this.tokenFile(namespace), token);
  }

  private async runSidecar(pod: FakePod, adminPort: number, dataPort: number): Promise<RunningSidecar> {
    const o = this.opts.get(`${pod.namespace}/${pod.name}`) ?? {};
    const sc = await startSidecar({
      waitForPush: true,
      host: '127.0.0.1',
      port: dataPort,
      adminHost: '127.0.0.1',
      adminPort,
      adminTokenFile: this.tokenFile(pod.namespace),
      logger: pino({ level: 'silent' }),
      ...(o.resolveSecrets ? { resolveSecrets: o.resolveSecrets } : {}),
    });
    return sc;
  }

  /** Creates the Pod object and starts its sidecar; resolves when the Pod reports Running. */
  async addPod(namespace: string, name: string, opts: PodOptions = {}): Promise<FakePod> {
    this.opts.set(`${namespace}/${name}`, opts);
    await this.projectToken(namespace);
    const pod: FakePod = { namespace, name, adminPort: 0, dataPort: 0, restarts: 0, applied: [] };
    const sc = await this.runSidecar(pod, 0, 0);
    Object.assign(pod, { sidecar: sc, adminPort: sc.adminPort, dataPort: sc.dataPort });
    this.watchPushes(pod);
    this.pods.set(`${namespace}/${name}`, pod);
    this.api.create('pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace,
        labels: { [SIDECAR_LABEL]: 'injected', ...(opts.labels ?? {}) },
        annotations: { [ADMIN_PORT_ANNOTATION]: String(sc.adminPort), 'airoute.dev/injected': 'true' },
      },
      spec: { containers: [{ name: 'app', image: 'app' }, { name: SIDECAR_CONTAINER, image: 'airoute' }] },
    });
    this.setStatus(pod, true);
    return pod;
  }

  private setStatus(pod: FakePod, running: boolean): void {
    const cur = this.api.get('pods', pod.namespace, pod.name);
    if (!cur) return;
    this.api.update(
      'pods',
      {
        ...cur,
        status: {
          phase: 'Running',
          podIP: '127.0.0.1',
          containerStatuses: [
            { name: 'app', ready: true, restartCount: 0, state: { running: { startedAt: '2025-01-01T00:00:00Z' } } },
            { name: SIDECAR_CONTAINER, ready: false, restartCount: pod.restarts, state: running ? { running: { startedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } } : { waiting: { reason: 'CrashLoopBackOff' } } },
          ],
        },
      },
      { subresource: 'status' },
    );
  }

  /** Records every config the sidecar swapped in (a push it accepted). */
  private watchPushes(pod: FakePod): void {
    const inner = pod.sidecar!.sidecar;
    const swap = inner.swap.bind(inner);
    inner.swap = (c) => {
      pod.applied.push(c.version);
      swap(c);
    };
  }

  /** The sidecar process restarts: same pod, same ports, no config, restartCount + 1. */
  async restartSidecar(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`)!;
    await pod.sidecar?.close();
    pod.restarts += 1;
    pod.sidecar = await this.runSidecar(pod, pod.adminPort, pod.dataPort);
    this.watchPushes(pod);
    this.setStatus(pod, true);
  }

  /** Takes the sidecar off the network without the Pod object noticing (a partition). */
  async partition(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`)!;
    await pod.sidecar?.close();
    delete pod.sidecar;
  }

  /** Brings a partitioned sidecar back on the same ports. It comes back empty (a fresh process)
   *  while the Pod object still shows the old incarnation: only observing it tells the difference. */
  async heal(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`)!;
    pod.sidecar = await this.runSidecar(pod, pod.adminPort, pod.dataPort);
    this.watchPushes(pod);
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    const pod = this.pods.get(`${namespace}/${name}`);
    await pod?.sidecar?.close();
    this.pods.delete(`${namespace}/${name}`);
    this.api.delete('pods', namespace, name);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    await Promise.all([...this.pods.values()].map((p) => p.sidecar?.close()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
