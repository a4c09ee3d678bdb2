// Per-request event source: numbers events gaplessly, stamps the current attempt, and refuses
// anything after the one terminal event.
import { TERMINAL_EVENTS, type EventListener, type EventType, type LifecycleEvent } from './types.ts';

export class Lifecycle {
  readonly requestId: string;
  attempt = 0;
  private seq = 0;
  private ended: LifecycleEvent | undefined;
  private readonly listener: EventListener;
  /** How many events of each type so far (retries, fallbacks, resumes for the request's record). */
  readonly counts: Partial<Record<EventType, number>> = {};

  constructor(requestId: string, listener: EventListener) {
    this.requestId = requestId;
    this.listener = listener;
  }

  get terminal(): LifecycleEvent | undefined {
    return this.ended;
  }

  get lastSeq(): number {
    return this.seq;
  }

  emit(type: EventType, data: Record<string, unknown> = {}): LifecycleEvent | undefined {
    if (this.ended) return undefined;
    const ev: LifecycleEvent = { requestId: this.requestId, seq: ++this.seq, ts: Date.now(), attempt: this.attempt, type, data };
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    if (TERMINAL_EVENTS.has(type)) this.ended = ev;
    this.listener(ev);
    return ev;
  }
}
