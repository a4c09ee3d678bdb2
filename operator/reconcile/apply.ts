// The I/O shell around plan(): read the AIRoute and Secrets from the informer caches, observe the
// sidecars (GET /config on any not yet seen), plan, persist a new version to status before it is
// pushed, push, re-plan on what the pushes answered, then write status and record Events.
// Idempotent: run twice on a converged route it changes nothing and pushes nothing.
import type { CustomObjectsApi, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION, type AIRoute, type AIRouteStatus } from '../../api/v1alpha1/airoute.ts';
import { DEFAULTS } from '../../api/v1alpha1/config.ts';
import { canonicalJson } from '../../api/v1alpha1/validate.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Informer } from '../kube/informer.ts';
import type { ReferencedSecrets } from '../kube/secret-cache.ts';
import { errorMessage, statusCode } from '../log.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { PodTarget, Pusher } from '../push/pusher.ts';
import type { ConfigSnapshots } from '../snapshot/configmaps.ts';
import type { Outcome } from '../queue.ts';
import { redact } from '../redact.ts';
import { referencedSecrets, type ConfigDefaults, type SecretsView } from './compile.ts';
import { mergeConditions } from './conditions.ts';
import { isLive, podFacts } from './pods.ts';
import { eventsBetween, plan, type Observed, type OtherRoute, type Plan, type PlannedEvent, type PodView } from './plan.ts';

export interface ReconcilerDeps {
  routes: Informer<AIRoute>;
  pods: Informer<V1Pod>;
  secrets: ReferencedSecrets;
  custom: CustomObjectsApi;
  events: EventRecorder;
  pusher: Pusher;
  snapshots: ConfigSnapshots;
  metrics: OperatorMetrics;
  logger: Logger;
  /** Requeue a route whose pods are not all synced after this long at most (catches missed pod changes). */
  pendingRequeueMs: number;
  /** Operator-wide config defaults (the shared journal store). */
  defaults?: ConfigDefaults;
  now?: () => number;
}

/** A status write lost a race (409); the queue retries with backoff once the cache catches up. */
export class StaleRouteError extends Error {}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function decodeSecrets(secrets: readonly V1Secret[], names: readonly string[]): SecretsView {
  const wanted = new Set(names);
  const out = new Map<string, Record<string, string>>();
  for (const s of secrets) {
    const name = s.metadata?.name;
    if (!name || !wanted.has(name)) continue;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    out.set(name, data);
  }
  return out;
}

/** The shared journal store, with a key prefix per namespace: tenants never share keys (and a
 *  Redis ACL per namespace can hold each to its own prefix). */
export function namespaced(d: ConfigDefaults, namespace: string): ConfigDefaults {
  if (!d.journal) return d;
  return { ...d, journal: { ...d.journal, keyPrefix: `${d.journal.keyPrefix ?? DEFAULTS.journal.keyPrefix}${namespace}:` } };
}

export class Reconciler {
  private readonly d: ReconcilerDeps;
  private readonly now: () => number;

  constructor(d: ReconcilerDeps) {
    this.d = d;
    this.now = d.now ?? Date.now;
  }

  private targets(namespace: string): { views: (PodView & { target: PodTarget })[] } {
    const views = this.d.pods
      .list(namespace)
      .filter(isLive)
      .map((pod) => {
        const f = podFacts(pod);
        const target: PodTarget = { key: f.key, incarnation: f.incarnation, address: f.address ?? '', namespace, name: f.name, uid: f.uid };
        return {
          name: f.name,
          labels: f.labels,
          injected: f.injected,
          ...(f.address ? { address: f.address } : {}),
          ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
          sidecar: this.d.pusher.observation(target),
          target,
        };
      });
    return { views };
  }

  private observed(route: AIRoute, namespace: string, views: readonly (PodView & { target: PodTarget })[]): Observed {
    const others: OtherRoute[] = this.d.routes
      .list(namespace)
      .filter((r) => r.metadata.name !== route.metadata.name && !r.metadata.deletionTimestamp)
      .map((r) => {
        const t = r.metadata.creationTimestamp;
        return { name: r.metadata.name ?? '', createdAt: t instanceof Date ? rfc3339(t.getTime()) : (t ?? ''), podSelector: r.spec?.podSelector ?? {} };
      });
    return {
      secrets: decodeSecrets(this.d.secrets.list(namespace), referencedSecrets(route.spec)),
      pods: views.map((v) => ({ ...v, sidecar: this.d.pusher.observation(v.target) })),
      otherRoutes: others,
      ...(this.d.defaults ? { defaults: namespaced(this.d.defaults, namespace) } : {}),
    };
  }

  private async writeStatus(route: AIRoute, status: AIRouteStatus): Promise<AIRoute> {
    const m = route.metadata;
    try {
      return (await this.d.custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace: m.namespace!,
        plural: PLURAL,
        name: m.name!,
        body: { ...route, status },
      })) as AIRoute;
    } catch (err) {
      const code = statusCode(err);
      if (code === 409) throw new StaleRouteError(`status of ${m.namespace}/${m.name} changed meanwhile`);
      if (code === 404) throw new StaleRouteError(`${m.namespace}/${m.name} was deleted meanwhile`);
      throw new Error(`writing status of ${m.namespace}/${m.name}: ${errorMessage(err)}`);
    }
  }

  async reconcile(key: string): Promise<Outcome> {
    const started = performance.now();
    try {
      const out = await this.run(key);
      this.d.metrics.reconcileDuration.observe({ result: 'ok' }, (performance.now() - started) / 1000);
      return out;
    } catch (err) {
      this.d.metrics.reconcileDuration.observe({ result: err instanceof StaleRouteError ? 'conflict' : 'error' }, (performance.now() - started) / 1000);
      if (!(err instanceof StaleRouteError)) this.d.metrics.reconcileErrors.inc();
      throw err;
    }
  }

  private async run(key: string): Promise<Outcome> {
    const [namespace, name] = key.split('/') as [string, string];
    let route = this.d.routes.get(namespace, name);
    const before = route?.status?.conditions;
    if (!route || route.metadata.deletionTimestamp) {
      // Deleted: sidecars keep the config they run (traffic must not stop because a resource
      // went away); nothing outside the cluster to clean up, so no finalizer. Its snapshot goes:
      // a pod restarted from now on waits for an AIRoute that selects it.
      this.d.metrics.forgetRoute(namespace, name);
      await this.d.secrets.release(key);
      await this.d.snapshots.remove(namespace, name);
      return;
    }
    // The Secrets this spec refers to, listed before the plan reads them (a Secret not yet in the
    // cache would otherwise look missing for a moment).
    await this.d.secrets.want(key, namespace, referencedSecrets(route.spec));
    const { views } = this.targets(namespace);
    await this.d.pusher.observe(views.filter((v) => v.address).map((v) => v.target));

    let p = plan(route, this.observed(route, namespace, views));
    let retryAt: number | undefined;
    let snapshotFailed = false;
    if (p.desired) {
      if (p.persistVersion) {
        // The new version is in status before any sidecar runs it, so it is never handed out twice
        // for different content, whichever replica leads next.
        // What status says meanwhile is the truth at this moment: the new version, synced nowhere yet.
        route = await this.writeStatus(route, this.statusFrom(route, p));
      }
      // The snapshot before the pushes: a pod that restarts right after a push starts from it.
      // A failure is not fatal to the push (the fast path); the route is retried.
      try {
        await this.d.snapshots.write(namespace, name, { version: p.desired.version, source: { namespace, name }, config: p.desired.snapshot });
      } catch (err) {
        snapshotFailed = true;
        this.d.logger.warn({ route: key, err: errorMessage(err) }, 'could not write the config snapshot');
      }
      if (p.push.length) {
        const body = JSON.stringify({ version: p.desired.version, config: p.desired.config, source: { namespace, name: route.metadata.name ?? '' } });
        const wanted = new Set(p.push);
        const pushTo = views.filter((v) => wanted.has(v.name)).map((v) => v.target);
        ({ retryAt } = await this.d.pusher.push(pushTo, p.desired.version, body));
      }
      p = plan(route, this.observed(route, namespace, views));
      // A sidecar answered with a newer version of other content: mint above it and go again.
      if (p.persistVersion) return { requeueAfterMs: 0 };
    }
    await this.finish(route, p, eventsBetween(before, p.status.conditions));
    this.d.metrics.podsSynced.set({ namespace, route: name }, p.status.syncedPods);
    this.d.metrics.podsTargeted.set({ namespace, route: name }, p.status.targetPods);
    this.d.metrics.configVersion.set({ namespace, route: name }, p.status.configVersion);
    if (p.status.syncedPods < p.status.targetPods || snapshotFailed) {
      const delay = retryAt !== undefined ? Math.max(0, retryAt - this.now()) : this.d.pendingRequeueMs;
      return { requeueAfterMs: Math.min(delay, this.d.pendingRequeueMs) };
    }
    return;
  }

  private statusFrom(route: AIRoute, p: Plan): AIRouteStatus {
    const s = p.status;
    return {
      observedGeneration: s.observedGeneration,
      conditions: mergeConditions(route.status?.conditions, s.conditions, route.metadata.generation ?? 0, rfc3339(this.now())),
      configVersion: s.configVersion,
      ...(s.configHash ? { configHash: s.configHash } : {}),
      targetPods: s.targetPods,
      syncedPods: s.syncedPods,
      syncedRatio: `${s.syncedPods}/${s.targetPods}`,
    };
  }

  /** `events` compare with the status this reconcile started from, not an intermediate write. */
  private async finish(route: AIRoute, p: Plan, events: PlannedEvent[]): Promise<void> {
    const status = this.statusFrom(route, p);
    if (canonicalJson(status) !== canonicalJson(route.status ?? {})) route = await this.writeStatus(route, status);
    // Events only after status says the same thing, so a retried reconcile does not repeat them.
    for (const e of events) {
      await this.d.events.record(route, { ...e, message: redact(e.message, p.secrets) });
      if (e.type === 'Warning') this.d.logger.warn({ route: `${route.metadata.namespace}/${route.metadata.name}`, reason: e.reason, message: redact(e.message, p.secrets) }, 'AIRoute not converged');
    }
  }
}
