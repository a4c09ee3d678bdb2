// The lifecycle event schema lives in api/v1alpha1/events.ts (shared with client/); the journal,
// Prometheus counters and logs all subscribe to the same stream, so what a client sees, what a
// dashboard counts and what a log line says cannot disagree.
import type { LifecycleEvent } from '../../api/v1alpha1/events.ts';

export { EVENT_TYPES, TERMINAL_EVENTS, type EventData, type LifecycleEvent, type LifecycleEventType } from '../../api/v1alpha1/events.ts';

export type EventListener = (ev: LifecycleEvent) => void;
