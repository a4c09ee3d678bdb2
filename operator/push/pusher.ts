// Observes and pushes sidecar configs, pod by pod, under one global concurrency bound.
//
// What it remembers is per sidecar *incarnation* (pod uid + the sidecar container's restart
// count + admin address): a restarted sidecar is a new incarnation, known to run nothing until it
// is observed, so it is pushed again; an unchanged one that already answered for a version is
// never pushed that version again (at most one delivered push per pod per version). Only
// deliveries that did not happen (unreachable, 5xx, identity not proven) are retried, each pod on
// its own capped exponential backoff with jitter.
//
// Nothing is read from or sent to a sidecar before it proved which pod it is (SidecarClient.verify:
// its ServiceAccount token, reviewed by the API server, names this pod's uid); its certificate is
// then pinned for the incarnation, and a new incarnation proves itself again.
import type { Logger } from 'pino';
import type { OperatorMetrics, PushOutcome } from '../metrics.ts';
import type { SidecarObservation } from '../reconcile/plan.ts';
import type { SidecarClient } from './sidecar-client.ts';

export interface PodTarget {
  /** namespace/name */
  key: string;
  incarnation: string;
  address: string;
  namespace: string;
  name: string;
  uid: string;
}

interface PodState extends SidecarObservation {
  incarnation: string;
  /** Highest version this incarnation gave a definitive answer for (200, 409 or 422). */
  answered: number;
  failures: number;
  nextAttemptAt: number;
  /** Needs a fresh GET /config before it is trusted (new incarnation, or a drift check is due). */
  stale: boolean;
  /** The certificate this incarnation proved itself with (PEM). */
  pin?: string;
}

export interface PusherOptions {
  client: SidecarClient;
  metrics: OperatorMetrics;
  logger: Logger;
  concurrency: number;
  backoff: { baseMs: number; maxMs: number };
  now?: () => number;
}

class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class Pusher {
  private readonly states = new Map<string, PodState>();
  private readonly sem: Semaphore;
  private readonly o: PusherOptions;
  private readonly now: () => number;

  constructor(o: PusherOptions) {
    this.o = o;
    this.sem = new Semaphore(o.concurrency);
    this.now = o.now ?? Date.now;
  }

  private state(t: PodTarget): PodState {
    let s = this.states.get(t.key);
    if (!s || s.incarnation !== t.incarnation) {
      s = { incarnation: t.incarnation, answered: 0, failures: 0, nextAttemptAt: 0, stale: true };
      this.states.set(t.key, s);
    }
    return s;
  }

  /** What plan() gets to see about this pod. */
  observation(t: PodTarget): SidecarObservation {
    const s = this.state(t);
    return {
      ...(s.running ? { running: s.running } : {}),
      ...(s.rejected ? { rejected: s.rejected } : {}),
      ...(s.unreachable ? { unreachable: s.unreachable } : {}),
    };
  }

  forget(key: string): void {
    this.states.delete(key);
  }

  /** Drops what is remembered about pods that no longer exist. */
  retainOnly(keys: ReadonlySet<string>): void {
    for (const k of this.states.keys()) if (!keys.has(k)) this.states.delete(k);
  }

  forgetAll(): void {
    this.states.clear();
  }

  /** Marks every known sidecar for a fresh GET /config (drift check), so a config changed or lost
   *  behind the operator's back is noticed by the next reconcile. */
  markAllStale(): void {
    for (const s of this.states.values()) s.stale = true;
  }

  private backoff(s: PodState, reason: string): void {
    // Whatever answers next at this address proves itself again: a process replaced behind the
    // Pod's back has another certificate, and the pinned one would refuse it forever.
    delete s.pin;
    s.failures += 1;
    s.unreachable = reason;
    const step = Math.min(this.o.backoff.maxMs, this.o.backoff.baseMs * 2 ** (s.failures - 1));
    s.nextAttemptAt = this.now() + step * (0.5 + Math.random() / 2);
  }

  private reached(s: PodState): void {
    s.failures = 0;
    s.nextAttemptAt = 0;
    delete s.unreachable;
    s.stale = false;
  }

  /** Proves the sidecar is this pod's before anything else happens with it; false (and backoff)
   *  when it cannot. */
  private async verified(t: PodTarget, s: PodState): Promise<boolean> {
    if (s.pin) return true;
    const v = await this.o.client.verify(t.address, { namespace: t.namespace, name: t.name, uid: t.uid });
    if (v.kind === 'verified') {
      s.pin = v.pin;
      return true;
    }
    if (v.kind === 'unreachable') {
      this.o.metrics.pushes.inc({ outcome: 'failed' });
      this.backoff(s, v.message);
      return false;
    }
    this.o.metrics.pushes.inc({ outcome: 'unverified' });
    this.backoff(s, `sidecar identity not proven: ${v.message}`);
    this.o.logger.warn({ pod: t.key, err: v.message }, 'sidecar did not prove it belongs to the pod; nothing sent to it');
    return false;
  }

  /** GET /config on every target not yet observed in its current incarnation (or due a drift check). */
  async observe(targets: readonly PodTarget[]): Promise<void> {
    const due = targets.filter((t) => {
      const s = this.state(t);
      return s.stale && s.nextAttemptAt <= this.now();
    });
    await Promise.all(
      due.map((t) =>
        this.sem.run(async () => {
          const s = this.state(t);
          if (!(await this.verified(t, s))) return;
          const a = await this.o.client.observe(t.address, s.pin!);
          if (a.kind === 'running') {
            this.reached(s);
            // Gone backwards: the process was replaced without the Pod showing it. What it
            // answered before no longer binds it; it is a new incarnation in all but name.
            if (s.running && a.version < s.running.version) {
              s.answered = a.version;
              delete s.rejected;
            }
            s.running = { version: a.version, hash: a.hash };
          } else this.backoff(s, a.message);
        }),
      ),
    );
  }

  /** Pushes `version` to the targets, skipping pods still in backoff. Returns when every attempt
   *  made has answered; the earliest time a skipped or failed pod may be retried, if any. */
  async push(targets: readonly PodTarget[], version: number, body: string): Promise<{ retryAt?: number }> {
    let retryAt: number | undefined;
    const noteRetry = (s: PodState) => {
      retryAt = retryAt === undefined ? s.nextAttemptAt : Math.min(retryAt, s.nextAttemptAt);
    };
    await Promise.all(
      targets.map((t) => {
        const s = this.state(t);
        if (s.answered >= version) return undefined; // delivered once already: never twice
        if (s.nextAttemptAt > this.now()) {
          noteRetry(s);
          return undefined;
        }
        return this.sem.run(async () => {
          const outcome = await this.pushOne(t, s, version, body);
          if (outcome === 'failed' || outcome === 'unauthorized' || outcome === 'unverified') noteRetry(s);
        });
      }),
    );
    return retryAt === undefined ? {} : { retryAt };
  }

  private async pushOne(t: PodTarget, s: PodState, version: number, body: string): Promise<PushOutcome> {
    if (!(await this.verified(t, s))) return 'unverified';
    const started = performance.now();
    const a = await this.o.client.push(t.address, s.pin!, body);
    const outcome: PushOutcome = a.kind;
    this.o.metrics.pushes.inc({ outcome });
    this.o.metrics.pushDuration.observe({ outcome }, (performance.now() - started) / 1000);
    switch (a.kind) {
      case 'applied':
      case 'stale':
        this.reached(s);
        s.answered = Math.max(s.answered, version);
        s.running = { version: a.version, hash: a.hash };
        if (a.kind === 'applied') delete s.rejected;
        break;
      case 'rejected':
        this.reached(s);
        s.answered = Math.max(s.answered, version);
        s.rejected = { version, message: a.message };
        // The reason goes to status and an Event after redaction (reconcile); not to the log raw.
        this.o.logger.warn({ pod: t.key, version }, 'sidecar rejected config');
        break;
      case 'unauthorized':
        this.backoff(s, `sidecar refused the operator's certificate (${a.status}): ${a.message}`);
        break;
      case 'failed':
        this.backoff(s, a.message);
        this.o.logger.debug({ pod: t.key, version, err: a.message, failures: s.failures }, 'push failed; backing off');
        break;
    }
    return outcome;
  }
}
