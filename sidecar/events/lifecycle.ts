// Per-request event source: numbers events gaplessly, stamps the current attempt, and refuses
// anything after the one terminal event.
import { TERMINAL_EVENTS, type EventData, type EventListener, type LifecycleEvent, type LifecycleEventType } from './types.ts';

export class Lifecycle {
  readonly requestId: string;
  attempt = 0;
  private seq = 0;
  private ended: LifecycleEvent | undefined;
  private readonly listener: EventListener;
  /** How many events of each type so far (retries, fallbacks, resumes for the request's record). */
  readonly counts: Partial<Record<LifecycleEventType, number>> = {};

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

  emit<T extends LifecycleEventType>(type: T, data: EventData[T]): LifecycleEvent | undefined {
    if (this.ended) return undefined;
    const ev = { requestId: this.requestId, seq: ++this.seq, ts: Date.now(), attempt: this.attempt, type, data } as LifecycleEvent;
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    if (TERMINAL_EVENTS.has(type)) this.ended = ev;
    this.listener(ev);
    return ev;
  }
}
