// The stand-in API server's storage: objects per resource type, one global resourceVersion
// counter (etcd's revision), a bounded per-type event history that watches replay from, and a
// compaction floor below which a watch gets 410 Gone, as after etcd compaction.
import type { JsonObject } from './schema.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: WatchEventType;
  object: JsonObject;
  /** The object before the change (MODIFIED), so selector-filtered watches can turn it into ADDED/DELETED. */
  previous?: JsonObject;
}

export type Listener = (ev: StoredEvent) => void;

interface TypeStore {
  objects: Map<string, JsonObject>;
  history: StoredEvent[];
  listeners: Set<Listener>;
}

export const objectKey = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export class Store {
  private rv = 100;
  private readonly types = new Map<string, TypeStore>();
  /** Events at or below this revision are gone (compacted). */
  private compactedRv = 0;
  private readonly historyLimit: number;

  constructor(historyLimit = 10_000) {
    this.historyLimit = historyLimit;
  }

  private type(resource: string): TypeStore {
    let t = this.types.get(resource);
    if (!t) {
      t = { objects: new Map(), history: [], listeners: new Set() };
      this.types.set(resource, t);
    }
    return t;
  }

  currentRv(): number {
    return this.rv;
  }

  oldestWatchableRv(): number {
    return this.compactedRv;
  }

  /** Forgets all history: every watch resuming from an earlier revision now gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    for (const t of this.types.values()) t.history = [];
  }

  get(resource: string, key: string): JsonObject | undefined {
    return this.type(resource).objects.get(key);
  }

  list(resource: string): JsonObject[] {
    return [...this.type(resource).objects.values()];
  }

  /** Writes (or deletes) an object, stamping a new resourceVersion, and notifies watchers. */
  commit(resource: string, key: string, type: WatchEventType, object: JsonObject): JsonObject {
    const t = this.type(resource);
    const previous = t.objects.get(key);
    this.rv += 1;
    const stamped = structuredClone(object);
    (stamped.metadata as JsonObject).resourceVersion = String(this.rv);
    if (type === 'DELETED') t.objects.delete(key);
    else t.objects.set(key, stamped);
    const ev: StoredEvent = { rv: this.rv, type, object: stamped, ...(previous ? { previous } : {}) };
    t.history.push(ev);
    if (t.history.length > this.historyLimit) {
      const dropped = t.history.splice(0, t.history.length - this.historyLimit);
      this.compactedRv = Math.max(this.compactedRv, dropped[dropped.length - 1]!.rv);
    }
    for (const l of t.listeners) l(ev);
    return stamped;
  }

  /** Events after `rv`, or undefined when that revision is compacted away. */
  since(resource: string, rv: number): StoredEvent[] | undefined {
    if (rv < this.compactedRv) return undefined;
    return this.type(resource).history.filter((e) => e.rv > rv);
  }

  subscribe(resource: string, l: Listener): () => void {
    const t = this.type(resource);
    t.listeners.add(l);
    return () => t.listeners.delete(l);
  }
}
