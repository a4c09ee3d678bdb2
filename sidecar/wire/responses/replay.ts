// A background response's stream, derived from the request's lifecycle events in the journal.
// The derivation is a pure function of the event sequence: the same events always give the same
// Responses events with the same `sequence_number`s. So any replica, on a memory or Redis journal,
// at any time, can replay a response's stream from the start and hand a reconnecting client
// exactly what follows `starting_after`: no gap, no duplicate.
import type { LifecycleEvent } from '../../../api/v1alpha1/events.ts';
import type { FinishReason, JsonObject, ReasoningOrigin } from '../../chat/types.ts';
import { ResponsesWriter, type WrittenEvent } from './writer.ts';

export interface ReplayOptions {
  id: string;
  /** Epoch ms the request was accepted. */
  createdAt: number;
  /** The model the client asked for (a route); the backend's model replaces it at completion. */
  model: string;
  echo: JsonObject;
  includeProof: boolean;
}

export class ResponsesReplay {
  private readonly w: ResponsesWriter;
  private attempted = false;

  constructor(o: ReplayOptions) {
    this.w = new ResponsesWriter({ id: o.id, createdAt: Math.floor(o.createdAt / 1000), model: o.model, echo: o.echo, includeProof: o.includeProof });
  }

  /** The Responses events one lifecycle event stands for, in order (often none). */
  feed(ev: LifecycleEvent): WrittenEvent[] {
    const w = this.w;
    switch (ev.type) {
      case 'request.accepted':
        w.created('queued');
        break;
      case 'attempt.started':
        // Retries, fallbacks and resumes are the sidecar's business: the client sees one response in progress.
        if (!this.attempted) w.inProgress();
        this.attempted = true;
        break;
      case 'content.delta': {
        const d = ev.data;
        if (d.choice !== 0) break;
        if (d.text) w.text(d.text);
        if (d.toolCall) {
          if (d.toolCall.id !== undefined || d.toolCall.name !== undefined) w.toolStart(d.toolCall.index, d.toolCall.id ?? '', d.toolCall.name ?? '');
          if (d.toolCall.arguments) w.toolArgs(d.toolCall.index, d.toolCall.arguments);
        }
        if (d.reasoning?.text) w.reasoning(d.reasoning.text);
        if (d.reasoning?.end) {
          const { origin, signature, encrypted, redacted } = d.reasoning.end;
          // One the provider did not give stays undefined, which the proof's encoding leaves out.
          w.reasoningEnd({ origin: origin as ReasoningOrigin, signature, encrypted, redacted });
        }
        break;
      }
      case 'request.completed':
        // Stryker disable next-line ConditionalExpression: made true, the writer's setModel ignores a missing model itself (made false, it is killed)
        if (ev.data.model) w.setModel(ev.data.model);
        w.setFinish((ev.data.finishReasons[0] ?? null) as FinishReason | null);
        w.setUsage(ev.data.usage);
        w.complete();
        break;
      case 'request.failed':
        w.fail({ code: ev.data.error.code, message: ev.data.error.message });
        break;
      case 'request.cancelled':
        w.fail({ code: 'cancelled', message: ev.data.reason }, 'cancelled');
        break;
    }
    return w.drain();
  }

  /** The response object after the events fed so far: its final form once a terminal event was fed. */
  current(): JsonObject {
    const w = this.w;
    return w.final ?? w.snapshot(this.attempted ? 'in_progress' : 'queued');
  }
}
