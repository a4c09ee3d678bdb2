// What the client was given, folded as it goes out: the source of `content.delta` events (for
// streamed and complete answers alike) and of the request's record. Frames reach the tally only
// after the resume stage's gate, so a delta event is exactly what the client received.
import { performance } from 'node:perf_hooks';
import type { ReasoningEnd } from '../../api/v1alpha1/events.ts';
import type { FinishReason, Frame, ReasoningPart, Usage } from '../chat/types.ts';
import { mergeUsage } from '../chat/types.ts';
import type { AirouteError } from '../errors.ts';
import type { Lifecycle } from '../events/lifecycle.ts';
import type { Answer, JsonAnswer } from './exchange.ts';

export class Tally {
  usage: Usage | undefined;
  readonly finish: (FinishReason | null)[] = [];
  chunks = 0;
  firstByteAt: number | undefined;
  backend: string | undefined;
  model: string | undefined;
  provider: string | undefined;
  /** Set when a started stream ended in an error. */
  error: AirouteError | undefined;
  /** Set when a complete answer streamed through too large to inspect: how many bytes, and how many were read before it was passed on. */
  uninspected: { bytes: number; limit: number } | undefined;

  private readonly lifecycle: Lifecycle;

  constructor(lifecycle: Lifecycle) {
    this.lifecycle = lifecycle;
  }

  /** Which backend answered; after a resume, the one that finished the answer. */
  see(answer: Answer): void {
    this.backend = answer.target.backend.name;
    this.model = answer.target.model;
    this.provider = answer.target.backend.type;
  }

  /** A complete (non-streamed) answer: its text is one delta per choice, so events concatenate to the result. */
  complete(answer: JsonAnswer): void {
    this.firstByteAt = performance.now();
    if (!answer.result) return;
    for (const c of answer.result.choices) {
      this.finish[c.index] = c.finishReason;
      for (const r of c.reasoning ?? []) {
        if (r.text) this.lifecycle.emit('content.delta', { choice: c.index, reasoning: { text: r.text } });
        this.lifecycle.emit('content.delta', { choice: c.index, reasoning: { end: reasoningEnd(r) } });
      }
      if (c.text) this.lifecycle.emit('content.delta', { choice: c.index, text: c.text });
      c.toolCalls.forEach((t, index) => this.lifecycle.emit('content.delta', { choice: c.index, toolCall: { index, id: t.id, name: t.name, arguments: t.arguments } }));
    }
    this.usage = answer.result.usage;
  }

  /** One streamed frame on its way to the client. */
  frame(frame: Frame): void {
    const lc = this.lifecycle;
    for (const ev of frame.events) {
      switch (ev.type) {
        case 'text':
          lc.emit('content.delta', { choice: ev.choice, text: ev.text });
          break;
        case 'tool_start':
          lc.emit('content.delta', { choice: ev.choice, toolCall: { index: ev.index, id: ev.id, name: ev.name } });
          break;
        case 'tool_args':
          lc.emit('content.delta', { choice: ev.choice, toolCall: { index: ev.index, arguments: ev.args } });
          break;
        case 'reasoning':
          lc.emit('content.delta', { choice: ev.choice, reasoning: { text: ev.text } });
          break;
        case 'reasoning_end':
          lc.emit('content.delta', { choice: ev.choice, reasoning: { end: reasoningEnd(ev) } });
          break;
        case 'usage':
          this.usage = mergeUsage(this.usage, ev.usage);
          break;
        case 'finish':
          this.finish[ev.choice] = ev.reason;
          break;
        case 'start':
          if (ev.usage) this.usage = mergeUsage(this.usage, ev.usage);
          break;
      }
    }
  }

  /** A chunk of bytes reached the client; answers whether it was the first. */
  sent(): boolean {
    this.chunks++;
    if (this.firstByteAt !== undefined) return false;
    this.firstByteAt = performance.now();
    return true;
  }
}

/** A reasoning block's end as the journal keeps it: its origin and whatever proof came with it. */
function reasoningEnd(r: Pick<ReasoningPart, 'origin' | 'id' | 'signature' | 'encrypted' | 'redacted'>): ReasoningEnd {
  return {
    origin: r.origin,
    ...(r.id !== undefined ? { id: r.id } : {}),
    ...(r.signature !== undefined ? { signature: r.signature } : {}),
    ...(r.encrypted !== undefined ? { encrypted: r.encrypted } : {}),
    ...(r.redacted !== undefined ? { redacted: r.redacted } : {}),
  };
}
