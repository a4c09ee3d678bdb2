// Kubernetes Events about AIRoutes (core/v1 Event, what `kubectl describe` shows). Messages are
// already redacted by plan(); failures to record are logged, never fatal: an Event is a courtesy.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { API_VERSION, KIND, type AIRoute } from '../../api/v1alpha1/airoute.ts';
import { errorMessage } from '../log.ts';
import type { PlannedEvent } from '../reconcile/plan.ts';

export const REPORTING_COMPONENT = 'airoute.dev/operator';

export class EventRecorder {
  private readonly core: CoreV1Api;
  private readonly logger: Logger;
  private readonly instance: string;

  constructor(core: CoreV1Api, logger: Logger, instance: string) {
    this.core = core;
    this.logger = logger;
    this.instance = instance;
  }

  async record(route: AIRoute, ev: PlannedEvent): Promise<void> {
    const m = route.metadata;
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: m.namespace!,
        body: {
          metadata: { name: `${m.name}.${randomBytes(8).toString('hex')}`, namespace: m.namespace! },
          involvedObject: { apiVersion: API_VERSION, kind: KIND, name: m.name!, namespace: m.namespace!, ...(m.uid ? { uid: m.uid } : {}), ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}) },
          type: ev.type,
          reason: ev.reason,
          message: ev.message,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          source: { component: 'airoute-operator' },
          reportingComponent: REPORTING_COMPONENT,
          reportingInstance: this.instance,
        },
      });
    } catch (err) {
      this.logger.warn({ route: `${m.namespace}/${m.name}`, reason: ev.reason, err: errorMessage(err) }, 'could not record Event');
    }
  }
}
