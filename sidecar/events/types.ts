// The request lifecycle as typed events. The journal (replay over SSE/WebSocket), Prometheus
// counters and logs all subscribe to the same stream, so what a client sees, what a dashboard
// counts and what a log line says cannot disagree.
export const EVENT_TYPES = [
  'request.accepted',
  'attempt.started',
  'content.delta',
  'checkpoint',
  'attempt.failed',
  'retry.scheduled',
  'fallback',
  'stream.resumed',
  'request.completed',
  'request.failed',
  'request.cancelled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_EVENTS: ReadonlySet<EventType> = new Set(['request.completed', 'request.failed', 'request.cancelled']);

export interface LifecycleEvent {
  requestId: string;
  /** Gapless from 1 per request. */
  seq: number;
  /** Epoch milliseconds. */
  ts: number;
  /** The attempt this event belongs to (0 before the first attempt). */
  attempt: number;
  type: EventType;
  data: Record<string, unknown>;
}

export type EventListener = (ev: LifecycleEvent) => void;
