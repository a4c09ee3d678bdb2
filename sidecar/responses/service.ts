// The Responses API's state on top of the sidecar's own machinery. Background responses are async
// requests (records, idempotency, capacity, webhooks, cancel: requests/service.ts) whose stream is
// derived from their journaled lifecycle (wire/responses/replay.ts); foreground responses are
// kept in a ResponseStore when they complete, for `previous_response_id` and `GET`.
import type { JsonObject } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';
import type { Journal } from '../events/journal.ts';
import type { LifecycleEvent } from '../events/types.ts';
import { speaksNatively } from '../providers/types.ts';
import type { AsyncService } from '../requests/service.ts';
import type { AsyncRecord } from '../requests/types.ts';
import { FINISHED } from '../requests/types.ts';
import type { Sidecar } from '../sidecar.ts';
import { isObject } from '../wire/json.ts';
import type { PriorResponse, ResponsesRequest, StoredContext } from '../wire/responses/client-request.ts';
import { ResponsesReplay } from '../wire/responses/replay.ts';
import { inputItems, outputToInput, requestIdOf, responseIdOf, responseIdOfItem } from '../wire/responses/shapes.ts';
import type { WrittenEvent } from '../wire/responses/writer.ts';
import type { ResponseStore, StoredResponse } from './store.ts';

export const notFound = (id: string) =>
  new AirouteError('not_found', 404, `Response with id '${id}' not found.`, { param: null, providerFormat: 'openai', providerType: 'invalid_request_error' });

/** A background response: its async record and what it runs under. */
interface Background {
  requestId: string;
  record: AsyncRecord & { responses: NonNullable<AsyncRecord['responses']> };
}

export class ResponsesService {
  private readonly sc: Sidecar;
  private readonly requests: AsyncService;
  private readonly journal: () => Journal;
  private readonly store: () => ResponseStore;
  /** Requests to keep when they complete (`store` not false), until their terminal event: one entry per request in flight. */
  private readonly pending = new Map<string, ResponsesRequest>();

  constructor(sc: Sidecar, requests: AsyncService, journal: () => Journal, store: () => ResponseStore) {
    this.sc = sc;
    this.requests = requests;
    this.journal = journal;
    this.store = store;
    // Every request's events pass here: with no Responses request to keep, one size check is all it costs.
    sc.onEvent((ev) => {
      if (this.pending.size && (ev.type === 'request.completed' || ev.type === 'request.failed' || ev.type === 'request.cancelled')) this.ended(ev);
    });
  }

  /** What a body refers to that the sidecar stored: its `previous_response_id`, and items of its own responses named by `item_reference`. */
  async context(body: JsonObject): Promise<StoredContext> {
    const out: { prior?: PriorResponse; references?: Map<string, JsonObject> } = {};
    const id = body.previous_response_id;
    if (typeof id === 'string' && id !== '') {
      const got = await this.store().get(id);
      // not kept: OpenAI may still know it; any other backend refuses it by name
      if (got.status === 'ok') out.prior = { id, items: got.stored.items, ...(got.stored.keptBy !== undefined ? { keptBy: got.stored.keptBy } : {}) };
    }
    const refs = Array.isArray(body.input) ? body.input.filter((i): i is JsonObject => isObject(i) && i.type === 'item_reference' && typeof i.id === 'string') : [];
    const responses = new Map<string, Promise<StoredResponse | undefined>>();
    for (const ref of refs) {
      const itemId = ref.id as string;
      const responseId = responseIdOfItem(itemId);
      if (!responseId) continue; // an OpenAI item: only OpenAI can resolve it
      if (!responses.has(responseId)) responses.set(responseId, this.store().get(responseId).then((g) => (g.status === 'ok' ? g.stored : undefined)));
      const item = (await responses.get(responseId))?.output.find((o) => o.id === itemId);
      if (item) (out.references ??= new Map()).set(itemId, outputToInput([item])[0]!);
    }
    return out;
  }

  /** Keeps the response when its request completes, unless the client said `store: false`. */
  remember(request: ResponsesRequest, requestId: string): void {
    if (request.body.store !== false) this.pending.set(requestId, request);
  }

  private ended(ev: LifecycleEvent): void {
    const request = this.pending.get(ev.requestId);
    if (!request) return;
    this.pending.delete(ev.requestId);
    const response = request.outcome.response;
    if (ev.type !== 'request.completed' || !response || typeof response.id !== 'string') return;
    const output = request.outcome.output ?? (Array.isArray(response.output) ? response.output : []);
    const backend = ev.data.backend ? this.sc.config?.backends.get(ev.data.backend) : undefined;
    // An OpenAI Responses upstream that answered a foreground request under its own id keeps it too.
    const kept = !request.background && backend && speaksNatively(backend.caps, 'responses') && requestIdOf(response.id) === undefined;
    const refs = request.references;
    const input = inputItems(request.body.input).map((i) => (i.type === 'item_reference' && typeof i.id === 'string' ? (refs?.get(i.id) ?? i) : i));
    this.store().put({
      id: response.id,
      response,
      items: [...(request.prior?.items ?? []), ...input, ...outputToInput(output)],
      output: output.filter(isObject),
      ...(kept ? { keptBy: backend.name } : {}),
      createdAt: Date.now(),
    });
  }

  private async background(responseId: string): Promise<Background | undefined> {
    const requestId = requestIdOf(responseId);
    if (!requestId) return undefined;
    const got = await this.requests.find(requestId).catch((err: unknown) => {
      if (err instanceof AirouteError && err.status === 404) return undefined;
      throw err;
    });
    if (got?.status !== 'ok' || got.record.format !== 'responses' || !got.record.responses) return undefined;
    return { requestId, record: got.record as Background['record'] };
  }

  private replay(b: Background): ResponsesReplay {
    const r = b.record;
    return new ResponsesReplay({ id: responseIdOf(b.requestId), createdAt: r.createdAt, model: r.model, echo: r.responses.echo, includeProof: r.responses.includeProof });
  }

  /** GET /v1/responses/{id}: a background response as its events tell it so far, or a stored one. */
  async retrieve(id: string): Promise<JsonObject> {
    const stored = await this.store().get(id);
    if (stored.status === 'deleted') throw notFound(id);
    const b = await this.background(id);
    if (b) return this.current(b);
    if (stored.status === 'ok') return stored.stored.response;
    throw notFound(id);
  }

  private async current(b: Background): Promise<JsonObject> {
    const replay = this.replay(b);
    const read = await this.journal().read(b.requestId, 0);
    if (read.status === 'ok' && read.events[0]?.seq === 1) {
      for (const ev of read.events) replay.feed(ev);
      return replay.current();
    }
    // Its events are past retention but its record is not: the record says how it ended.
    const r = b.record;
    if (r.status === 'completed' && r.result && typeof r.result === 'object') return r.result as JsonObject;
    const base = replay.current();
    if (r.status === 'failed' || r.status === 'cancelled') {
      const e = (r.error as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      return { ...base, status: r.status, error: { code: String(e?.code ?? r.status), message: String(e?.message ?? `the response ${r.status}`) } };
    }
    return base;
  }

  /**
   * `GET /v1/responses/{id}?stream=true&starting_after=N` (and a background create with
   * `stream: true`): the response's events after N, replayed from the journal and then followed
   * live. Checks first, so that a response that cannot be streamed is an HTTP error, not a broken stream.
   */
  async events(id: string, after: number, signal: AbortSignal): Promise<AsyncIterable<WrittenEvent>> {
    if ((await this.store().get(id)).status === 'deleted') throw notFound(id);
    const b = await this.background(id);
    if (!b) {
      if ((await this.store().get(id)).status === 'ok')
        throw new AirouteError('invalid_request', 400, `Response '${id}' was not created with background=true: only background responses can be streamed again.`, { param: 'stream' });
      throw notFound(id);
    }
    await this.requests.checkEvents(b.requestId, 0);
    const journal = this.journal();
    const replay = this.replay(b);
    return (async function* () {
      for await (const ev of journal.follow(b.requestId, 0, signal)) for (const out of replay.feed(ev)) if (out.seq > after) yield out;
    })();
  }

  /** POST /v1/responses/{id}/cancel: a background response stops; one already finished is answered as it is. */
  async cancel(id: string): Promise<JsonObject> {
    const b = await this.background(id);
    if (!b) {
      if ((await this.store().get(id)).status === 'ok')
        throw new AirouteError('invalid_request', 400, `Response '${id}' was not created with background=true: only background responses can be cancelled.`, { param: null });
      throw notFound(id);
    }
    if (!FINISHED.has(b.record.status))
      await this.requests.cancel(b.requestId).catch((err: unknown) => {
        if (!(err instanceof AirouteError && err.status === 409)) throw err; // it finished meanwhile
      });
    return this.retrieve(id);
  }

  /** DELETE /v1/responses/{id}: forgotten (a background response still running is cancelled first). */
  async delete(id: string): Promise<JsonObject> {
    const stored = await this.store().get(id);
    const b = stored.status === 'deleted' ? undefined : await this.background(id);
    if (!b && stored.status !== 'ok') throw notFound(id);
    if (b && !FINISHED.has(b.record.status)) await this.requests.cancel(b.requestId).catch(() => undefined);
    await this.store().delete(id);
    return { id, object: 'response', deleted: true };
  }
}
