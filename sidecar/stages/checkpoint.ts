// What the client has been given, recorded at frame boundaries with constant work per frame:
// text is kept as a list of pieces and joined only when a recovery needs it. The text is what a
// resume needs, so it is kept only up to a bound (limits.maxCheckpointChars; none at all for a
// route that resumes nothing): past it the pieces are dropped and the request can no longer be
// resumed, which the resume stage announces. The counts are always kept.
import type { StreamEvent } from '../chat/types.ts';

export interface CheckpointSummary {
  /** Characters of text delivered, all choices. */
  deliveredChars: number;
  /** Tool calls started. */
  toolCalls: number;
  choices: number;
}

export type Resumability = { ok: true } | { ok: false; reason: string };

export class Checkpoint {
  private readonly pieces: string[] = [];
  private joined: string | undefined;
  private chars = 0;
  private kept = 0;
  private readonly maxChars: number;
  /** The delivered text passed maxChars: it is no longer kept, and no resume can continue it. */
  overflowed = false;

  /** `maxChars`: how much delivered text to keep for a resume (0: none, for `resume: none`). */
  constructor(maxChars = Number.POSITIVE_INFINITY) {
    this.maxChars = maxChars;
  }
  private tools = 0;
  private choices = 1;
  private finished = false;

  record(ev: StreamEvent): void {
    switch (ev.type) {
      case 'text':
        if (ev.choice === 0) {
          if (this.maxChars > 0 && !this.overflowed) this.keep(ev.text);
        } else this.choices = Math.max(this.choices, ev.choice + 1);
        this.chars += ev.text.length;
        return;
      case 'tool_start':
        this.tools++;
        if (ev.choice > 0) this.choices = Math.max(this.choices, ev.choice + 1);
        return;
      case 'finish':
        if (ev.choice === 0) this.finished = true;
        return;
    }
  }

  private keep(text: string): void {
    this.kept += text.length;
    this.joined = undefined;
    if (this.kept <= this.maxChars) {
      this.pieces.push(text);
      return;
    }
    this.overflowed = true;
    this.pieces.length = 0;
  }

  /** Text of choice 0 delivered so far. */
  delivered(): string {
    return (this.joined ??= this.pieces.join(''));
  }

  summary(): CheckpointSummary {
    return { deliveredChars: this.chars, toolCalls: this.tools, choices: this.choices };
  }

  /** Only plain text of a single choice can be continued without splicing two answers. */
  resumability(): Resumability {
    if (this.overflowed) return { ok: false, reason: `the delivered text passed limits.maxCheckpointChars (${this.maxChars} characters), so it was not kept for a resume` };
    if (this.tools > 0) return { ok: false, reason: 'a tool call was in progress; its arguments cannot be continued safely' };
    if (this.choices > 1) return { ok: false, reason: 'several choices were streaming; only a single choice can be continued' };
    if (this.finished) return { ok: false, reason: 'the answer had finished; nothing is left to continue' };
    return { ok: true };
  }
}
