// Wires the operator together: informers → work queue → reconciler (plan + push), run only by
// the replica holding the leader Lease; the admission webhook and /metrics run on every replica.
// Informers also run on followers, so a new leader starts from a warm cache.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionregistrationV1Api, AuthenticationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { GROUP, PLURAL, VERSION, type AIRoute } from '../api/v1alpha1/airoute.ts';
import { EventRecorder } from './kube/events.ts';
import { Informer } from './kube/informer.ts';
import { listAllPages } from './kube/paged-list.ts';
import { ReferencedSecrets } from './kube/secret-cache.ts';
import { LeaderElector } from './leader/lease.ts';
import { createOperatorLogger, errorMessage } from './log.ts';
import { OperatorMetrics } from './metrics.ts';
import { operatorApp } from './http.ts';
import { Pusher } from './push/pusher.ts';
import { SidecarClient } from './push/sidecar-client.ts';
import { PushIdentity } from './push/identity.ts';
import { IDENTITY_AUDIENCE } from '../api/v1alpha1/push.ts';
import { ConfigSnapshots } from './snapshot/configmaps.ts';
import { WorkQueue } from './queue.ts';
import { referencedSecretKeys, referencedSecrets } from './reconcile/compile.ts';
import { claimOf, ownerOf } from './reconcile/owner.ts';
import { Reconciler, StaleRouteError } from './reconcile/apply.ts';
import type { ConfigDefaults } from './reconcile/compile.ts';
import { SIDECAR_LABEL, podFacts } from './reconcile/pods.ts';
import { startWebhook, type FailurePolicy, type RunningWebhook } from './webhook/server.ts';
import { WebhookCertificates } from './webhook/certs.ts';
import type { InjectionSettings } from './webhook/inject.ts';

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** This replica's name in the Lease and in Events (the pod name in a cluster). */
  identity: string;
  logger?: Logger;
  /** Only this namespace's AIRoutes, pods and Secrets (default: all namespaces). */
  watchNamespace?: string;
  leaderElection: { enabled: boolean; namespace: string; name: string; leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  workers: number;
  push: { concurrency: number; timeoutMs: number; backoff: { baseMs: number; maxMs: number } };
  /** Full resync: every sidecar is asked GET /config again (drift) and every AIRoute reconciled. */
  resyncIntervalMs: number;
  /** Longest wait before re-checking a route whose pods are not all synced. */
  pendingRequeueMs: number;
  informerBackoff?: { baseMs: number; maxMs: number };
  queueRateLimit?: { baseMs: number; maxMs: number };
  /** /metrics, /healthz, /readyz. */
  http?: { host: string; port: number };
  webhook?: {
    host: string;
    port: number;
    settings: Omit<InjectionSettings, 'pushCa'>;
    failurePolicy: FailurePolicy;
    /** cert-manager's certificate files, or the operator's own rotating CA (its Secret, the
     *  MutatingWebhookConfiguration to keep trusting it, the Service it is issued for). */
    certFile?: string;
    keyFile?: string;
    managed?: { secretName: string; configurationName: string; serviceName: string };
  };
  /** The operator's own namespace (the push CA Secret; default: the Lease's). */
  namespace?: string;
  /** Called when this replica loses the Lease while running (the CLI exits, as client-go does). */
  onLostLeadership?: () => void;
  processMetrics?: boolean;
  /** What every pushed config gets when its AIRoute leaves it out (the shared journal store). */
  configDefaults?: ConfigDefaults;
}

export interface RunningOperator {
  metrics: OperatorMetrics;
  isLeader(): boolean;
  /** Resolves when this replica starts leading. */
  leading(): Promise<void>;
  httpPort?: number;
  webhookPort?: number;
  /** Ends everything. `crash: true` simulates a dead process: no Lease release, no goodbye. */
  stop(opts?: { crash?: boolean }): Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<RunningOperator> {
  const logger = o.logger ?? createOperatorLogger();
  const metrics = new OperatorMetrics({ processMetrics: o.processMetrics ?? false });
  const custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  const coordination = o.kubeConfig.makeApiClient(CoordinationV1Api);
  const ns = o.watchNamespace;
  const backoff = o.informerBackoff;

  const routes = new Informer<AIRoute>({
    kubeConfig: o.kubeConfig,
    name: 'airoutes',
    logger,
    ...(backoff ? { backoff } : {}),
    path: ns ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    list: () =>
      listAllPages(
        async (p) =>
          (ns
            ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL, ...p })
            : await custom.listCustomObjectForAllNamespaces({ group: GROUP, version: VERSION, resourcePlural: PLURAL, ...p })) as { metadata?: { resourceVersion?: string; continue?: string }; items: AIRoute[] },
      ),
  });
  // Only injected pods carry the label, so the cache holds airoute pods, not the whole cluster's.
  const pods = new Informer<V1Pod>({
    kubeConfig: o.kubeConfig,
    name: 'pods',
    logger,
    ...(backoff ? { backoff } : {}),
    path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
    labelSelector: SIDECAR_LABEL,
    list: () => listAllPages((p) => (ns ? core.listNamespacedPod({ namespace: ns, labelSelector: SIDECAR_LABEL, ...p }) : core.listPodForAllNamespaces({ labelSelector: SIDECAR_LABEL, ...p }))),
  });
  // Secrets: only those an AIRoute references (one watch each); never the cluster's Secrets as a whole.
  const enqueueFor = (s: V1Secret) => {
    const namespace = s.metadata?.namespace ?? '';
    const name = s.metadata?.name ?? '';
    for (const r of routes.list(namespace)) if (referencedSecrets(r.spec).includes(name)) enqueue(`${namespace}/${r.metadata.name}`);
  };
  const secrets = new ReferencedSecrets({ kubeConfig: o.kubeConfig, core, logger, ...(backoff ? { backoff } : {}), onChange: enqueueFor });

  // Who the operator is to sidecars (the push CA in its own namespace), and how it checks who they are.
  const identity = new PushIdentity({ core, namespace: o.namespace ?? o.leaderElection.namespace, logger });
  await identity.ensure();
  const authentication = o.kubeConfig.makeApiClient(AuthenticationV1Api);
  const client = new SidecarClient({
    timeoutMs: o.push.timeoutMs,
    clientCert: () => identity.client(),
    review: async (token) => {
      const r = await authentication.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [IDENTITY_AUDIENCE] } } });
      const st = r.status ?? {};
      return { authenticated: st.authenticated === true, ...(st.error ? { error: st.error } : {}), ...(st.user?.username ? { username: st.user.username } : {}), ...(st.audiences ? { audiences: st.audiences } : {}), ...(st.user?.extra ? { extra: st.user.extra } : {}) };
    },
  });
  const pusher = new Pusher({ client, metrics, logger, concurrency: o.push.concurrency, backoff: o.push.backoff });
  const reconciler = new Reconciler({
    routes,
    pods,
    secrets,
    custom,
    events: new EventRecorder(core, logger, o.identity),
    pusher,
    snapshots: new ConfigSnapshots(core, logger),
    metrics,
    logger,
    pendingRequeueMs: o.pendingRequeueMs,
    ...(o.configDefaults ? { defaults: o.configDefaults } : {}),
  });

  // ---- keys: every callback only enqueues namespace/name of the AIRoutes it may concern.
  let queue: WorkQueue | undefined;
  const enqueue = (key: string) => queue?.add(key);
  const routesIn = (namespace: string) => routes.list(namespace).map((r) => `${namespace}/${r.metadata.name}`);
  routes.onChange((r) => {
    // Its neighbours too: a selector change can start or end a conflict over a shared pod.
    for (const k of routesIn(r.metadata.namespace ?? '')) enqueue(k);
    enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
  });
  pods.onChange((p) => {
    for (const k of routesIn(p.metadata?.namespace ?? '')) enqueue(k);
  });
  await Promise.all([routes.start(), pods.start()]);
  logger.info({ namespace: ns ?? '(all)' }, 'caches synced');

  // ---- the controller proper: runs while leading.
  let workers: Promise<void> | undefined;
  let resync: NodeJS.Timeout | undefined;
  let leader = false;
  const leadingWaiters: (() => void)[] = [];
  const startLeading = () => {
    leader = true;
    metrics.isLeader.set(1);
    queue = new WorkQueue(o.queueRateLimit ?? { baseMs: 5, maxMs: 30_000 }, (d) => metrics.queueDepth.set(d));
    workers = queue.run(
      o.workers,
      (key) => reconciler.reconcile(key),
      (key, err) => {
        if (err instanceof StaleRouteError) logger.debug({ route: key, err: err.message }, 'reconcile raced a write; retrying');
        else logger.error({ route: key, err: errorMessage(err) }, 'reconcile failed; retrying with backoff');
      },
    );
    for (const r of routes.list()) enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
    resync = setInterval(() => {
      const live = new Set(pods.list().map((p) => podFacts(p).key));
      pusher.retainOnly(live);
      pusher.markAllStale();
      for (const r of routes.list()) enqueue(`${r.metadata.namespace}/${r.metadata.name}`);
    }, o.resyncIntervalMs);
    resync.unref();
    for (const w of leadingWaiters.splice(0)) w();
  };
  const stopLeading = async () => {
    if (!leader) return;
    leader = false;
    metrics.isLeader.set(0);
    clearInterval(resync);
    queue?.shutdown();
    queue = undefined;
    await workers;
    // A future term starts from what the sidecars say, not from what this term remembered.
    pusher.forgetAll();
  };

  let stopping = false;
  let elector: LeaderElector | undefined;
  if (o.leaderElection.enabled) {
    elector = new LeaderElector({
      api: coordination,
      namespace: o.leaderElection.namespace,
      name: o.leaderElection.name,
      identity: o.identity,
      leaseDurationMs: o.leaderElection.leaseDurationMs,
      renewDeadlineMs: o.leaderElection.renewDeadlineMs,
      retryPeriodMs: o.leaderElection.retryPeriodMs,
      logger,
      onStartedLeading: startLeading,
      onStoppedLeading: () => {
        void stopLeading().then(() => {
          if (!stopping) o.onLostLeadership?.();
        });
      },
    });
    elector.start();
  } else startLeading();

  // ---- /metrics, /healthz, /readyz
  let http: Server | undefined;
  if (o.http) {
    http = createServer(operatorApp({ metrics, logger, ready: () => routes.synced && pods.synced }));
    await new Promise<void>((r) => http!.listen(o.http!.port, o.http!.host, () => r()));
  }

  let webhook: RunningWebhook | undefined;
  if (o.webhook) {
    const { managed, ...hook } = o.webhook;
    const certificates = managed
      ? new WebhookCertificates({ core, admission: o.kubeConfig.makeApiClient(AdmissionregistrationV1Api), namespace: o.namespace ?? o.leaderElection.namespace, ...managed, logger })
      : undefined;
    await certificates?.ensure();
    webhook = await startWebhook({
      ...hook,
      ...(certificates ? { certificates } : {}),
      settings: { ...o.webhook.settings, pushCa: identity.caCert },
      ownerOf: (namespace, labels) => {
        const live = routes.list(namespace).filter((r) => !r.metadata.deletionTimestamp);
        const owner = ownerOf(labels, live.map((r) => ({ ...claimOf(r), route: r })));
        return owner ? { route: owner.name, secrets: referencedSecretKeys(owner.route.spec) } : undefined;
      },
      logger,
      metrics,
    });
  }

  return {
    metrics,
    isLeader: () => leader,
    leading: () => (leader ? Promise.resolve() : new Promise<void>((r) => leadingWaiters.push(r))),
    ...(http ? { httpPort: (http.address() as AddressInfo).port } : {}),
    ...(webhook ? { webhookPort: webhook.port } : {}),
    async stop(opts = {}) {
      stopping = true;
      await elector?.stop({ release: !opts.crash });
      await stopLeading();
      await Promise.all([routes.stop(), pods.stop(), secrets.stop()]);
      await webhook?.close();
      if (http) {
        const h = http;
        await new Promise<void>((r) => {
          h.close(() => r());
          h.closeAllConnections();
        });
      }
      await client.close();
    },
  };
}
