// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules:
//  - a candidate takes the Lease when it is free or its holder has not renewed for
//    leaseDuration, measured on the candidate's own clock from when *it* last saw the record
//    change (so clock skew between replicas does not matter);
//  - every write carries the resourceVersion it read, so of two candidates racing for a free
//    Lease exactly one wins (the other gets 409);
//  - the leader renews every retryPeriod and steps down if it could not renew for renewDeadline
//    (< leaseDuration), so it has stopped acting before anyone else may take over;
//  - on a clean shutdown it releases the Lease, so a successor need not wait.
// A successor therefore takes over at most leaseDuration + retryPeriod after the leader's last
// renewal.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage, statusCode } from '../log.ts';

export interface LeaderElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  now?: () => number;
}

export class LeaderElector {
  private readonly o: LeaderElectionOptions;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private lastRenew = 0;
  private observed: { record: string; at: number } | undefined;
  private stopped = true;
  private ticking: Promise<void> = Promise.resolve();

  constructor(o: LeaderElectionOptions) {
    if (o.renewDeadlineMs >= o.leaseDurationMs) throw new Error('renewDeadline must be shorter than leaseDuration');
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.o.retryPeriodMs);
      });
    };
    loop();
  }

  private async tick(): Promise<void> {
    const ok = await this.tryAcquireOrRenew().catch((err: unknown) => {
      this.o.logger.warn({ lease: this.o.name, err: errorMessage(err) }, 'lease request failed');
      return false;
    });
    if (this.stopped) return;
    if (ok) {
      this.lastRenew = this.now();
      if (!this.leading) {
        this.leading = true;
        this.o.logger.info({ identity: this.o.identity, lease: `${this.o.namespace}/${this.o.name}` }, 'became leader');
        this.o.onStartedLeading();
      }
    } else if (this.leading && this.now() - this.lastRenew >= this.o.renewDeadlineMs) {
      this.stepDown('could not renew the lease within the renew deadline');
    }
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.o.logger.warn({ identity: this.o.identity, why }, 'stopped leading');
    this.o.onStoppedLeading();
  }

  private seconds(ms: number): number {
    return Math.max(1, Math.ceil(ms / 1000));
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity } = this.o;
    const now = new V1MicroTime(this.now());
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      try {
        await api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: this.seconds(this.o.leaseDurationMs), acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        return true;
      } catch (createErr) {
        if (statusCode(createErr) === 409) return false; // another candidate created it first
        throw createErr;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    // Remember when this replica last saw the record change; expiry is judged from that moment.
    const record = JSON.stringify([holder, String(spec.renewTime ?? ''), spec.leaseTransitions ?? 0]);
    if (!this.observed || this.observed.record !== record) this.observed = { record, at: this.now() };
    const durationMs = (spec.leaseDurationSeconds ?? this.seconds(this.o.leaseDurationMs)) * 1000;
    if (holder && holder !== identity && this.now() < this.observed.at + durationMs) return false;
    const mine = holder === identity;
    try {
      await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.seconds(this.o.leaseDurationMs),
            acquireTime: mine && spec.acquireTime ? new V1MicroTime(new Date(spec.acquireTime).getTime()) : now,
            renewTime: now,
            leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
          },
        },
      });
      return true;
    } catch (err) {
      if (statusCode(err) === 409) return false; // someone else wrote it since we read it
      throw err;
    }
  }

  /** Stops campaigning. `release` hands the Lease back so a successor need not wait it out. */
  async stop({ release }: { release: boolean }): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const wasLeading = this.leading;
    this.stepDown('stopping');
    if (release && wasLeading) {
      try {
        const lease = await this.o.api.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
        if (lease.spec?.holderIdentity === this.o.identity)
          await this.o.api.replaceNamespacedLease({
            name: this.o.name,
            namespace: this.o.namespace,
            body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: undefined, renewTime: new V1MicroTime(this.now()) } },
          });
      } catch (err) {
        this.o.logger.warn({ err: errorMessage(err) }, 'could not release the lease');
      }
    }
  }
}
