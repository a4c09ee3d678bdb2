// Sheds new work before the heap runs out. Every per-request buffer has a bound, but requests
// are many: past a point the sidecar must refuse new ones (503 with Retry-After, which the
// official SDKs honour) rather than take them all and die, ending every stream in flight.
//
// The budget is V8's heap limit, or less in a container whose memory limit V8 does not see
// (process.constrainedMemory(); V8 sizes its heap from it, but never below a 256 MiB old
// generation, so in the 256Mi the operator injects the heap limit is above the container's):
// then the container limit less what the process needs beside the heap (a quarter of it, at least
// 64 MiB: code, sockets' buffers, native allocations).
// What counts is the heap in use after the last full collection (an estimate of live data:
// garbage would otherwise trigger shedding in a busy but healthy process), or, as a backstop
// against a burst no collection has seen yet, the heap in use now near the budget itself.
// Before it sheds, the guard collects garbage itself (at most once a second): a process that sheds
// allocates little, so V8 might never collect the garbage of a burst, and it would shed forever.
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AirouteError } from '../errors.ts';

/** New work is shed once live heap reaches this share of the budget. */
export const SHED_AT = 0.8;
/** ... or once the heap in use now, garbage included, reaches this share. */
export const SHED_NOW_AT = 0.95;
const MiB = 1024 * 1024;

export interface HeapReading {
  used: number;
  limit: number;
}

// Buffers (a socket's data, an answer read whole before parsing) live outside the V8 heap but
// inside the container: they count as used.
const readHeap = (): HeapReading => {
  const s = getHeapStatistics();
  return { used: s.used_heap_size + s.external_memory, limit: s.heap_size_limit };
};

/**
 * A full, synchronous garbage collection, or undefined where it cannot be had. `--expose-gc` set at
 * run time installs `gc` in contexts created afterwards; the main context is left as it was.
 */
function fullCollection(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
  } catch {
    return undefined;
  }
}

/** The heap budget: V8's limit, or the container's limit less what the process needs beside the heap. */
export function heapBudget(heapLimit: number, containerBytes: number | undefined): number {
  // constrainedMemory() answers a huge number (or 0) when no limit is set
  if (!containerBytes || containerBytes >= 2 ** 50) return heapLimit;
  return Math.min(heapLimit, containerBytes - Math.max(64 * MiB, containerBytes / 4));
}

export class MemoryGuard {
  readonly budget: number;
  /** Requests refused so far (monotonic). */
  shed = 0;
  private readonly heap: () => HeapReading;
  private liveAfterGc = 0;
  private now: HeapReading = { used: 0, limit: 0 };
  private sampledAt = Number.NEGATIVE_INFINITY;
  private readonly observer: PerformanceObserver | undefined;
  private readonly collect: (() => void) | undefined;
  private collectedAt = Number.NEGATIVE_INFINITY;

  constructor(opts: { heap?: () => HeapReading; containerBytes?: number; observeGc?: boolean; collect?: (() => void) | null } = {}) {
    this.heap = opts.heap ?? readHeap;
    this.collect = opts.collect === null ? undefined : (opts.collect ?? fullCollection());
    this.budget = heapBudget(this.heap().limit, opts.containerBytes ?? process.constrainedMemory());
    if (opts.observeGc !== false) {
      // after each full (mark-compact) collection, what is left in use is close to what is live
      this.observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if ((((e as { detail?: { kind?: number } }).detail?.kind ?? 0) & constants.NODE_PERFORMANCE_GC_MAJOR) !== 0) this.liveAfterGc = this.heap().used;
      });
      this.observer.observe({ entryTypes: ['gc'] });
    }
  }

  /** Told after a full collection (the observer does it; tests call it). */
  collected(used: number): void {
    this.liveAfterGc = used;
  }

  /** Whether new work must be refused now; reads the heap at most every 50 ms (this is on the hot path). */
  pressure(at = Date.now()): number | undefined {
    if (at - this.sampledAt > 50) {
      this.now = this.heap();
      this.sampledAt = at;
    }
    if (!this.over()) return undefined;
    if (this.collect && at - this.collectedAt > 1000) {
      // Is it live? Two passes: array buffers freed by the first are swept by the second.
      this.collectedAt = at;
      for (let i = 0; i < 2 && this.over(); i++) {
        this.collect();
        this.now = this.heap();
        this.liveAfterGc = this.now.used;
      }
      if (!this.over()) return undefined;
    }
    return this.now.used / this.budget;
  }

  private over(): boolean {
    const live = Math.min(this.liveAfterGc, this.now.used);
    return live >= SHED_AT * this.budget || this.now.used >= SHED_NOW_AT * this.budget;
  }

  /** Throws 503 (Retry-After 1 s) when new work must be refused. */
  admit(at = Date.now()): void {
    const p = this.pressure(at);
    if (p === undefined) return;
    this.shed++;
    throw new AirouteError('overloaded', 503, `the sidecar is shedding load: its heap is at ${Math.round(p * 100)} % of its ${Math.round(this.budget / MiB)} MiB budget; retry shortly`, {
      retryAfterMs: 1000,
    });
  }

  close(): void {
    this.observer?.disconnect();
  }
}
