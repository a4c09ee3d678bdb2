// HTTP transport on undici: the fastest maintained HTTP/1.1 client for Node, with keep-alive pools
// per origin. Its own header/body timeouts are off: the attempt owns first-token, idle and total
// deadlines, which mean different things for a stream than for a plain response.
// It drives undici's dispatcher directly (a DispatchHandler) rather than its request() API, whose
// Readable body stream, promise and abort-signal plumbing were a large share of the sidecar's
// per-request CPU and garbage: the body here is a small queue the attempt pulls from, with
// backpressure through the dispatcher's pause/resume.
import { Agent, type Dispatcher } from 'undici';
import type { HeaderMap, UpstreamRequest } from '../providers/types.ts';
import type { SendOptions, Transport, UpstreamResponse } from './transport.ts';

/** Unread response bytes past which the upstream socket is paused; reading below LOW_WATER resumes it. */
export const HIGH_WATER = 64 * 1024;
const LOW_WATER = 16 * 1024;
/** What is read and thrown away after discard() to keep a connection for the pool; past it the connection is closed instead. */
export const DISCARD_LIMIT = 256 * 1024;

/** `https://host:port/base/path?q` -> origin and path, without a URL object per request. */
export function splitUrl(url: string): { origin: string; path: string } {
  const scheme = url.indexOf('://');
  const slash = scheme === -1 ? -1 : url.indexOf('/', scheme + 3);
  if (scheme === -1) throw new TypeError(`not an absolute URL: ${url}`);
  return slash === -1 ? { origin: url, path: '/' } : { origin: url.slice(0, slash), path: url.slice(slash) };
}

type Waiter = { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (err: unknown) => void };

/** One response's body: chunks as undici hands them over, pulled by the attempt at its own pace. */
class ResponseBody implements AsyncIterableIterator<Uint8Array> {
  private chunks: Buffer[] = [];
  private head = 0;
  private queued = 0;
  private ended = false;
  private error: unknown;
  private waiter: Waiter | undefined;
  private discarding = false;
  private discarded = 0;
  controller: Dispatcher.DispatchController | undefined;

  [Symbol.asyncIterator](): this {
    return this;
  }

  push(chunk: Buffer): void {
    if (this.discarding) {
      this.discarded += chunk.length;
      if (this.discarded > DISCARD_LIMIT) this.controller?.abort(new Error('discarded response body over its limit'));
      return;
    }
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: chunk, done: false });
      return;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER && !this.controller?.paused) this.controller?.pause();
  }

  end(): void {
    this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve({ value: undefined, done: true });
  }

  fail(err: unknown): void {
    if (this.ended) return;
    this.error = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]!;
      this.chunks[this.head++] = undefined as unknown as Buffer;
      if (this.head === this.chunks.length) {
        this.chunks = [];
        this.head = 0;
      }
      this.queued -= chunk.length;
      if (this.queued < LOW_WATER && this.controller?.paused) this.controller.resume();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.ended || this.discarding) return Promise.resolve({ value: undefined, done: true });
    if (this.controller?.paused) this.controller.resume();
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** A consumer that stops early (break out of for-await) lets the rest go. */
  async return(): Promise<IteratorResult<Uint8Array>> {
    this.discard();
    return { value: undefined, done: true };
  }

  /** Reads the rest and throws it away (bounded) so the connection can be reused. */
  discard(): void {
    if (this.ended || this.error !== undefined || this.discarding) return;
    this.discarding = true;
    for (let i = this.head; i < this.chunks.length; i++) this.discarded += this.chunks[i]!.length;
    this.chunks = [];
    this.head = 0;
    this.queued = 0;
    if (this.discarded > DISCARD_LIMIT) return void this.controller?.abort(new Error('discarded response body over its limit'));
    if (this.controller?.paused) this.controller.resume();
  }
}

export class HttpTransport implements Transport {
  private readonly agents = new Map<number, Agent>();

  private agent(connectTimeoutMs: number): Agent {
    let agent = this.agents.get(connectTimeoutMs);
    if (!agent) {
      agent = new Agent({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0, pipelining: 1 });
      this.agents.set(connectTimeoutMs, agent);
    }
    return agent;
  }

  send(req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const cancel = opts.cancel;
    if (cancel.reason !== undefined) return Promise.reject(cancel.reason);
    const { origin, path } = splitUrl(req.url);
    const body = new ResponseBody();
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let started = false;
      // Until undici hands over its controller, a cancel is seen in onRequestStart.
      cancel.onCancel((reason) => body.controller?.abort(reason));
      const settle = () => cancel.onCancel(undefined);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(controller) {
          body.controller = controller;
          if (cancel.reason !== undefined) controller.abort(cancel.reason);
        },
        onResponseStart(_controller, statusCode, headers) {
          started = true;
          resolve({ status: statusCode, headers: headers as HeaderMap, body, discard: () => body.discard() });
        },
        onResponseData(_controller, chunk) {
          body.push(chunk);
        },
        onResponseEnd() {
          settle();
          body.end();
        },
        onResponseError(_controller, err) {
          settle();
          if (started) body.fail(err);
          else reject(err);
        },
      };
      try {
        this.agent(opts.connectTimeoutMs).dispatch({ origin, path, method: req.method, headers: req.headers, body: req.body }, handler);
      } catch (err) {
        settle();
        reject(err);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close().catch(() => undefined)));
    this.agents.clear();
  }
}
