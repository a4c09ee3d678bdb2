// OpenAI Responses API, the event writer: one response's typed stream events, numbered by
// `sequence_number`, built up from what the answer contains (text, tool calls, reasoning). The
// client stream encoder drives it from neutral events and the background replay from the
// journal's lifecycle events; both get the same events in the same order for the same answer,
// which is what makes a background stream resumable from any replica.
//
// Output items open and close the way OpenAI streams them: a message or reasoning item closes
// when the next item starts; function calls stay open until the response ends, since a Chat
// Completions upstream may interleave the arguments of parallel calls.
import { mergeUsage, type FinishReason, type Frame, type JsonObject, type ReasoningOrigin, type Usage } from '../../chat/types.ts';
import { encodeProof, itemId, responsesUsage } from './shapes.ts';

export interface WriterOptions {
  id: string;
  /** Unix seconds. */
  createdAt: number;
  model: string;
  /** The request fields the response object repeats (shapes.ts echoOf). */
  echo: JsonObject;
  /** Put reasoning's opaque proof in `encrypted_content` (the client asked for `reasoning.encrypted_content`). */
  includeProof: boolean;
}

type Status = 'in_progress' | 'completed' | 'incomplete';

interface ItemBase {
  index: number;
  id: string;
  open: boolean;
  /** How it closed. */
  status?: Status;
}
interface MessageItem extends ItemBase {
  kind: 'message';
  text: string[];
  /** Its output_text part was announced (content_part.added). */
  part: boolean;
  /** A passthrough upstream already closed that part (content_part.done) before the stream was cut. */
  partDone?: boolean;
}
interface ToolItem extends ItemBase {
  kind: 'function_call';
  callId: string;
  name: string;
  args: string[];
  toolIndex: number;
}
interface ReasoningItem extends ItemBase {
  kind: 'reasoning';
  text: string[];
  part: boolean;
  /** As for a message: the upstream already closed its summary part. */
  partDone?: boolean;
  proof?: { origin: ReasoningOrigin; signature?: string; encrypted?: string; redacted?: string };
}
/** An item only a passthrough upstream could make (a built-in tool call): seen, not rebuilt. */
interface OtherItem extends ItemBase {
  kind: 'other';
}
type Item = MessageItem | ToolItem | ReasoningItem | OtherItem;

export interface WrittenEvent {
  seq: number;
  sse: string;
}

export class ResponsesWriter {
  private readonly o: WriterOptions;
  private id: string;
  private model: string;
  private seq = 0;
  private readonly items: Item[] = [];
  /** The open message or reasoning item that text goes to. */
  private current: MessageItem | ReasoningItem | undefined;
  private readonly tools = new Map<number, ToolItem>();
  private finish: FinishReason | null = null;
  private usage: Usage | undefined;
  private pending: WrittenEvent[] = [];
  started = false;
  /** A terminal event (completed, incomplete, failed) went out. */
  ended = false;
  /** The response object the terminal event this writer wrote carried. */
  final: JsonObject | undefined;

  constructor(o: WriterOptions) {
    this.o = o;
    this.id = o.id;
    this.model = o.model;
  }

  get responseId(): string {
    return this.id;
  }

  /** The events written since the last drain, in order. */
  drain(): WrittenEvent[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  drainText(): string {
    let s = '';
    for (const e of this.drain()) s += e.sse;
    return s;
  }

  private emit(type: string, fields: JsonObject): void {
    const seq = this.seq++;
    this.pending.push({ seq, sse: `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: seq })}\n\n` });
  }

  setModel(model: string): void {
    if (model) this.model = model;
  }

  setFinish(reason: FinishReason | null): void {
    this.finish = reason;
  }

  /** Providers report usage in pieces (Anthropic: input at the start, output at the end). */
  setUsage(u: Usage | undefined): void {
    if (u) this.usage = mergeUsage(this.usage, u);
  }

  /** response.created (and response.queued for a background response not started yet). */
  created(status: 'queued' | 'in_progress'): void {
    this.started = true;
    this.emit('response.created', { response: this.snapshot(status) });
    if (status === 'queued') this.emit('response.queued', { response: this.snapshot('queued') });
  }

  inProgress(): void {
    this.emit('response.in_progress', { response: this.snapshot('in_progress') });
  }

  /** A foreground stream starts at its first content: created, then in progress. */
  ensureStarted(): void {
    if (this.started) return;
    this.created('in_progress');
    this.inProgress();
  }

  text(delta: string): void {
    const m = this.current?.kind === 'message' ? this.current : this.openMessage();
    if (!m.part) this.openPart(m);
    m.text.push(delta);
    this.emit('response.output_text.delta', { item_id: m.id, output_index: m.index, content_index: 0, delta, logprobs: [] });
  }

  toolStart(toolIndex: number, callId: string, name: string): void {
    this.closeCurrent('completed');
    const item: ToolItem = { kind: 'function_call', index: this.items.length, id: '', open: true, callId, name, args: [], toolIndex };
    item.id = itemId(this.id, 'function_call', item.index);
    this.items.push(item);
    this.tools.set(toolIndex, item);
    this.emit('response.output_item.added', { output_index: item.index, item: this.itemJson(item, 'in_progress') });
  }

  toolArgs(toolIndex: number, delta: string): void {
    const item = this.tools.get(toolIndex);
    if (!item?.open) return;
    item.args.push(delta);
    this.emit('response.function_call_arguments.delta', { item_id: item.id, output_index: item.index, delta });
  }

  reasoning(delta: string): void {
    const r = this.current?.kind === 'reasoning' ? this.current : this.openReasoning();
    if (!r.part) {
      r.part = true;
      this.emit('response.reasoning_summary_part.added', { item_id: r.id, output_index: r.index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    }
    r.text.push(delta);
    this.emit('response.reasoning_summary_text.delta', { item_id: r.id, output_index: r.index, summary_index: 0, delta });
  }

  /** A reasoning block ended, with the provider's proof if it gave one. */
  reasoningEnd(proof: NonNullable<ReasoningItem['proof']>): void {
    const r = this.current?.kind === 'reasoning' ? this.current : this.openReasoning();
    r.proof = proof;
    // Stryker disable next-line StringLiteral: it closes a reasoning item, and a reasoning item's JSON has no status (itemJson)
    this.closeCurrent('completed');
  }

  /** The answer is complete: every open item closes, then response.completed (or .incomplete when cut by a limit). */
  complete(): void {
    if (this.ended) return;
    this.ensureStarted();
    this.closeAll('completed');
    this.ended = true;
    this.final = this.finished();
    this.emit(this.final.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response: this.final });
  }

  /** The response as a finished answer: completed, or incomplete when a limit cut it. */
  finished(): JsonObject {
    const incomplete = this.finish === 'length' ? 'max_output_tokens' : this.finish === 'content_filter' ? 'content_filter' : undefined;
    return incomplete ? this.snapshot('incomplete', { incomplete_details: { reason: incomplete } }) : this.snapshot('completed');
  }

  /**
   * The answer failed (or was cancelled): open items close as incomplete, then response.failed,
   * and for a failure an `error` event too, which the official SDKs raise as an exception.
   */
  fail(error: { code: string; message: string }, status: 'failed' | 'cancelled' = 'failed'): void {
    if (this.ended) return;
    this.ensureStarted();
    this.closeAll('incomplete');
    this.ended = true;
    this.final = this.snapshot(status, { error });
    this.emit('response.failed', { response: this.final });
    if (status === 'failed') this.emit('error', { code: error.code, message: error.message, param: null });
  }

  /** The response object as it stands. */
  snapshot(status: string, extra: { error?: JsonObject; incomplete_details?: JsonObject } = {}): JsonObject {
    const { background, metadata, ...echo } = this.o.echo;
    return {
      id: this.id,
      object: 'response',
      created_at: this.o.createdAt,
      status,
      background: background ?? false,
      error: extra.error ?? null,
      incomplete_details: extra.incomplete_details ?? null,
      ...echo,
      model: this.model,
      // Items only an upstream could describe (built-in tool calls) are left out of a response this writer completes.
      output: this.items.filter((i) => i.kind !== 'other').map((i) => this.itemJson(i, i.status ?? 'in_progress')),
      usage: this.usage && status !== 'queued' && status !== 'in_progress' ? responsesUsage(this.usage) : null,
      metadata: metadata ?? {},
    };
  }

  /**
   * Follows an upstream stream that goes to the client as it came (same-format passthrough):
   * nothing is written, but ids, numbering and content are tracked, so that a continuation after
   * a mid-stream failure (or a failure event) joins the same response.
   */
  observe(frame: Frame): void {
    this.started = true;
    if (frame.seq !== undefined) this.seq = frame.seq + 1;
    const b = frame.block;
    if (b?.op === 'start' && b.id !== undefined) this.observeItem(b.index, b.id, b.kind ?? '');
    for (const ev of frame.events)
      switch (ev.type) {
        case 'start':
          if (ev.id) this.id = ev.id;
          this.setModel(ev.model);
          this.setUsage(ev.usage);
          break;
        case 'text':
          if (this.current?.kind === 'message') this.current.text.push(ev.text);
          break;
        case 'tool_start': {
          const item = this.items[this.items.length - 1];
          if (item?.kind === 'function_call') {
            item.callId = ev.id;
            item.name = ev.name;
            item.toolIndex = ev.index;
            this.tools.set(ev.index, item);
          }
          break;
        }
        case 'tool_args':
          this.tools.get(ev.index)?.args.push(ev.args);
          break;
        case 'reasoning':
          if (this.current?.kind === 'reasoning') {
            this.current.part = true;
            this.current.text.push(ev.text);
          }
          break;
        case 'reasoning_end':
          if (this.current?.kind === 'reasoning') this.current.proof = { origin: ev.origin, ...(ev.encrypted !== undefined ? { encrypted: ev.encrypted } : {}) };
          break;
        case 'finish':
          this.finish = ev.reason;
          this.ended = true; // the upstream's own terminal event carried it
          break;
        case 'usage':
          this.setUsage(ev.usage);
          break;
      }
    if (b?.op === 'start' && b.kind === 'content_part' && this.current?.kind === 'message') this.current.part = true;
    // The upstream closed the part itself: closing the item later must not announce it again.
    if (b?.op === 'stop' && ((b.kind === 'content_part' && this.current?.kind === 'message') || (b.kind === 'summary_part' && this.current?.kind === 'reasoning'))) this.current.partDone = true;
    if (b?.op === 'stop' && b.kind !== 'content_part' && b.kind !== 'summary_part') {
      const item = this.items[b.index];
      if (item) {
        item.open = false;
        item.status = 'completed';
      }
      if (this.current === item) this.current = undefined;
    }
  }

  private observeItem(index: number, id: string, kind: string): void {
    if (kind === 'content_part' || kind === 'summary_part') return;
    const base = { index, id, open: true };
    let item: Item;
    if (kind === 'message') item = { ...base, kind: 'message', text: [], part: false };
    else if (kind === 'reasoning') item = { ...base, kind: 'reasoning', text: [], part: false };
    else if (kind === 'function_call') item = { ...base, kind: 'function_call', callId: '', name: '', args: [], toolIndex: -1 };
    else item = { ...base, kind: 'other' };
    this.items[index] = item;
    this.current = item.kind === 'message' || item.kind === 'reasoning' ? item : undefined;
  }

  private openMessage(): MessageItem {
    // Stryker disable next-line StringLiteral: text() opens a message only when the current item is not one, so this closes a reasoning item, and a reasoning item's JSON has no status (itemJson)
    this.closeCurrent('completed');
    const item: MessageItem = { kind: 'message', index: this.items.length, id: '', open: true, text: [], part: false };
    item.id = itemId(this.id, 'message', item.index);
    this.items.push(item);
    this.current = item;
    this.emit('response.output_item.added', { output_index: item.index, item: this.itemJson(item, 'in_progress') });
    return item;
  }

  private openPart(m: MessageItem): void {
    m.part = true;
    this.emit('response.content_part.added', { item_id: m.id, output_index: m.index, content_index: 0, part: outputText('') });
  }

  private openReasoning(): ReasoningItem {
    this.closeCurrent('completed');
    const item: ReasoningItem = { kind: 'reasoning', index: this.items.length, id: '', open: true, text: [], part: false };
    item.id = itemId(this.id, 'reasoning', item.index);
    this.items.push(item);
    this.current = item;
    this.emit('response.output_item.added', { output_index: item.index, item: this.itemJson(item, 'in_progress') });
    return item;
  }

  private closeCurrent(status: Status): void {
    const c = this.current;
    this.current = undefined;
    if (c?.open) this.close(c, status);
  }

  private closeAll(status: Status): void {
    this.closeCurrent(status);
    for (const item of this.items) if (item.open && item.kind === 'function_call') this.close(item, status);
  }

  private close(item: Item, status: Status): void {
    item.open = false;
    item.status = status;
    if (item.kind === 'message') {
      const text = item.text.join('');
      if (!item.part) this.openPart(item);
      if (!item.partDone) {
        this.emit('response.output_text.done', { item_id: item.id, output_index: item.index, content_index: 0, text, logprobs: [] });
        this.emit('response.content_part.done', { item_id: item.id, output_index: item.index, content_index: 0, part: outputText(text) });
      }
    } else if (item.kind === 'function_call') {
      this.emit('response.function_call_arguments.done', { item_id: item.id, output_index: item.index, arguments: item.args.join('') });
    } else if (item.kind === 'reasoning' && item.part && !item.partDone) {
      const text = item.text.join('');
      this.emit('response.reasoning_summary_text.done', { item_id: item.id, output_index: item.index, summary_index: 0, text });
      this.emit('response.reasoning_summary_part.done', { item_id: item.id, output_index: item.index, summary_index: 0, part: { type: 'summary_text', text } });
    }
    if (item.kind !== 'other') this.emit('response.output_item.done', { output_index: item.index, item: this.itemJson(item, status) });
  }

  /** The output with every reasoning proof in it, whatever the client asked to see: what the sidecar keeps for `previous_response_id`. */
  outputForStore(): JsonObject[] {
    return this.items.filter((i) => i.kind !== 'other').map((i) => this.itemJson(i, i.status ?? 'in_progress', true));
  }

  private itemJson(item: Item, status: Status, withProof = this.o.includeProof): JsonObject {
    switch (item.kind) {
      case 'message':
        return { id: item.id, type: 'message', status, content: item.open && !item.text.length ? [] : [outputText(item.text.join(''))], role: 'assistant' };
      case 'function_call':
        return { id: item.id, type: 'function_call', status, arguments: item.args.join(''), call_id: item.callId, name: item.name };
      case 'reasoning': {
        const text = item.text.join('');
        const proof = withProof && item.proof ? encodeProof(item.proof) : undefined;
        return { id: item.id, type: 'reasoning', summary: text ? [{ type: 'summary_text', text }] : [], ...(proof !== undefined ? { encrypted_content: proof } : {}) };
      }
      // Stryker disable next-line ConditionalExpression,StringLiteral: unreachable, 'other' items are filtered out of every output and never closed (see close); the case keeps the switch exhaustive
      case 'other':
        // Stryker disable next-line ObjectLiteral: unreachable, see the case above
        return { id: item.id };
    }
  }
}

function outputText(text: string): JsonObject {
  return { type: 'output_text', annotations: [], logprobs: [], text };
}
