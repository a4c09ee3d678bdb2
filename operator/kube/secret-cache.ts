// The Secrets the operator holds in memory: only those an AIRoute references, each through a
// list+watch of that one name (fieldSelector metadata.name=...), started when the first AIRoute
// refers to it and stopped when the last one stops. So the operator's heap grows with the keys
// it serves, not with the cluster's Secrets (Helm release Secrets alone can be hundreds of MiB).
// Bound: one watch per referenced (namespace, Secret) pair.
import type { CoreV1Api, KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Informer } from './informer.ts';
import { listAllPages } from './paged-list.ts';

export interface ReferencedSecretsOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  logger: Logger;
  backoff?: { baseMs: number; maxMs: number };
  /** A watched Secret changed (or appeared, or went away). */
  onChange: (secret: V1Secret) => void;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

export class ReferencedSecrets {
  private readonly o: ReferencedSecretsOptions;
  /** Which Secrets each AIRoute (namespace/name) refers to. */
  private readonly wants = new Map<string, Set<string>>();
  private readonly watches = new Map<string, { inf: Informer<V1Secret>; ready: Promise<void> }>();

  constructor(o: ReferencedSecretsOptions) {
    this.o = o;
  }

  private watch(namespace: string, name: string): Informer<V1Secret> {
    const fieldSelector = `metadata.name=${name}`;
    const inf = new Informer<V1Secret>({
      kubeConfig: this.o.kubeConfig,
      name: `secret ${namespace}/${name}`,
      logger: this.o.logger,
      ...(this.o.backoff ? { backoff: this.o.backoff } : {}),
      path: `/api/v1/namespaces/${namespace}/secrets`,
      fieldSelector,
      list: () => listAllPages((p) => this.o.core.listNamespacedSecret({ namespace, fieldSelector, ...p })),
    });
    inf.onChange(this.o.onChange);
    return inf;
  }

  /** Makes the cache hold what `route` refers to now; resolves once each of those is listed. */
  async want(route: string, namespace: string, names: readonly string[]): Promise<void> {
    const keys = new Set(names.map((n) => keyOf(namespace, n)));
    this.wants.set(route, keys);
    const ready: Promise<void>[] = [];
    for (const k of keys) {
      let w = this.watches.get(k);
      if (!w) {
        const inf = this.watch(namespace, k.slice(namespace.length + 1));
        w = { inf, ready: inf.start() };
        this.watches.set(k, w);
      }
      ready.push(w.ready);
    }
    await this.prune();
    await Promise.all(ready);
  }

  /** The AIRoute is gone: its Secrets are dropped unless another one refers to them. */
  async release(route: string): Promise<void> {
    if (this.wants.delete(route)) await this.prune();
  }

  private async prune(): Promise<void> {
    const needed = new Set([...this.wants.values()].flatMap((s) => [...s]));
    for (const [k, w] of this.watches) {
      if (needed.has(k)) continue;
      this.watches.delete(k);
      await w.inf.stop();
    }
  }

  get(namespace: string, name: string): V1Secret | undefined {
    return this.watches.get(keyOf(namespace, name))?.inf.get(namespace, name);
  }

  /** The cached Secrets of a namespace (only referenced ones). */
  list(namespace: string): V1Secret[] {
    return [...this.watches.entries()].filter(([k]) => k.startsWith(`${namespace}/`)).flatMap(([, w]) => w.inf.list(namespace));
  }

  /** How many Secrets are watched (one watch each). */
  get size(): number {
    return this.watches.size;
  }

  async stop(): Promise<void> {
    this.wants.clear();
    await Promise.all([...this.watches.values()].map((w) => w.inf.stop()));
    this.watches.clear();
  }
}
