// Operator metrics (Prometheus, prom-client). One registry per operator instance, so two replicas
// in one test process do not share counters. Labels are bounded: outcome names, and namespace/route
// of AIRoutes (objects an admin creates), never pod names or user data.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type PushOutcome = 'applied' | 'stale' | 'rejected' | 'unauthorized' | 'unverified' | 'failed';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileDuration = new Histogram({
    name: 'airoute_operator_reconcile_duration_seconds',
    help: 'Time to reconcile one AIRoute (observe, push, status).',
    labelNames: ['result'] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: 'airoute_operator_reconcile_errors_total',
    help: 'Reconciles that failed and were requeued with backoff.',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({ name: 'airoute_operator_queue_depth', help: 'AIRoute keys waiting in the work queue.', registers: [this.registry] });
  readonly pushDuration = new Histogram({
    name: 'airoute_operator_push_duration_seconds',
    help: 'Latency of PUT /config to a sidecar, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly pushes = new Counter({
    name: 'airoute_operator_pushes_total',
    help: 'Config pushes by outcome: applied, stale (sidecar already newer), rejected (422), unauthorized, unverified (the sidecar did not prove it is the pod\'s), failed (unreachable/5xx).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly podsSynced = new Gauge({
    name: 'airoute_operator_route_pods_synced',
    help: 'Selected pods whose sidecar runs the AIRoute\'s config version.',
    labelNames: ['namespace', 'route'] as const,
    registers: [this.registry],
  });
  readonly podsTargeted = new Gauge({
    name: 'airoute_operator_route_pods_targeted',
    help: 'Selected pods with an airoute sidecar.',
    labelNames: ['namespace', 'route'] as const,
    registers: [this.registry],
  });
  readonly configVersion = new Gauge({
    name: 'airoute_operator_route_config_version',
    help: 'Config version of the AIRoute (status.configVersion).',
    labelNames: ['namespace', 'route'] as const,
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({ name: 'airoute_operator_is_leader', help: '1 while this replica holds the leader Lease.', registers: [this.registry] });
  readonly webhookRequests = new Counter({
    name: 'airoute_operator_webhook_requests_total',
    help: 'Admission reviews by outcome: injected, skipped, error.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'airoute_operator_' });
  }

  forgetRoute(namespace: string, route: string): void {
    for (const g of [this.podsSynced, this.podsTargeted, this.configVersion]) g.remove({ namespace, route });
  }
}
