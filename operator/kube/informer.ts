// An informer: client-node's ListWatch (list, then watch from the list's resourceVersion, re-list
// on 410 Gone) plus what it leaves to the caller: ListWatch stops on any other error (a failed
// list, a refused watch, a dropped connection reported as an error), so this restarts it with
// capped exponential backoff and jitter. Watches ask for bookmarks so a quiet watch keeps a fresh
// resourceVersion and a restart rarely falls out of the server's history window.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from '../log.ts';

/** A Watch that always requests BOOKMARK events (ListWatch itself does not ask for them). */
class BookmarkingWatch extends Watch {
  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
  }
}

export interface InformerOptions<T> {
  kubeConfig: KubeConfig;
  /** API path of the collection, e.g. /api/v1/pods or /apis/airoute.dev/v1alpha1/airoutes. */
  path: string;
  list: () => Promise<{ metadata?: { resourceVersion?: string }; items: T[] }>;
  labelSelector?: string;
  fieldSelector?: string;
  logger: Logger;
  name: string;
  backoff?: { baseMs: number; maxMs: number };
}

// T is the object as the operator types it (AIRoute has string timestamps where client-node's
// KubernetesObject says Date: custom objects arrive as plain JSON), hence the casts at the edge.
export class Informer<T> {
  private readonly lw: ListWatch<KubernetesObject>;
  private readonly opts: InformerOptions<T>;
  private readonly handlers: ((obj: T) => void)[] = [];
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private syncedOnce = false;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(opts: InformerOptions<T>) {
    this.opts = opts;
    const watch = new BookmarkingWatch(opts.kubeConfig);
    this.lw = new ListWatch<KubernetesObject>(opts.path, watch, opts.list as unknown as () => Promise<KubernetesListObject<KubernetesObject>>, false, opts.labelSelector, opts.fieldSelector);
    // Callbacks only hand the object on: the controller maps it to keys and enqueues them.
    const forward = (obj: KubernetesObject) => {
      for (const h of this.handlers) h(obj as T);
    };
    this.lw.on('add', forward);
    this.lw.on('update', forward);
    this.lw.on('delete', forward);
    this.lw.on('connect', () => this.markSynced());
    this.lw.on('error', (err: unknown) => this.restartLater(err));
  }

  onChange(handler: (obj: T) => void): void {
    this.handlers.push(handler);
  }

  private markSynced() {
    // 'connect' fires before the (re)list; a successful list leaves a resourceVersion behind.
    queueMicrotask(() => {
      if (this.lw.latestResourceVersion()) this.settle();
    });
  }

  private settle() {
    if (this.syncedOnce) return;
    this.syncedOnce = true;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private restartLater(err: unknown): void {
    if (this.stopped) return;
    const b = this.opts.backoff ?? { baseMs: 200, maxMs: 30_000 };
    const delay = Math.min(b.maxMs, b.baseMs * 2 ** this.failures) * (0.5 + Math.random() / 2);
    this.failures += 1;
    this.opts.logger.warn({ informer: this.opts.name, err: errorMessage(err), retryInMs: Math.round(delay) }, 'watch failed; restarting');
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.begin(), delay);
  }

  private async begin(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.lw.start();
      if (this.lw.latestResourceVersion()) {
        this.failures = 0;
        this.settle();
      }
    } catch (err) {
      this.restartLater(err);
    }
  }

  /** Starts list+watch; resolves once the first list has landed in the cache. */
  async start(): Promise<void> {
    this.stopped = false;
    void this.begin();
    if (!this.syncedOnce) await new Promise<void>((r) => this.syncWaiters.push(r));
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  get(namespace: string, name: string): T | undefined {
    return this.lw.get(name, namespace) as T | undefined;
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace) as readonly KubernetesObject[] as readonly T[];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    for (const w of this.syncWaiters.splice(0)) w();
    await this.lw.stop();
  }
}
