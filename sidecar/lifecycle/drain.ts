// Graceful drain on SIGTERM. Kubernetes sends SIGTERM, then SIGKILL after the pod's grace period;
// in between the sidecar stops taking new work and lets the work it has finish:
//  - readiness fails at once (the admin port's /readyz asks `draining`), so the pod leaves its
//    Services' endpoints;
//  - a new request on the data port gets a 503 in its endpoint's error shape (OpenAI or
//    Anthropic), with `connection: close`, instead of a refused connection or a cut stream;
//  - requests already in flight (streams included) and async requests run to their end;
//  - when none is left, or at the deadline (derived from the pod's terminationGracePeriodSeconds,
//    injected as --drain-timeout), drain() resolves and the caller closes the listeners and exits.
// The data plane needs no change for this: guard() wraps its request handler, counting requests
// and answering the refusal before the data plane sees one.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { AirouteError } from '../errors.ts';
import { sendError } from '../server/http.ts';

export interface DrainResult {
  /** Everything finished before the deadline. */
  clean: boolean;
  /** Data-port requests and async requests still running when drain() gave up. */
  leftRequests: number;
  leftAsync: number;
}

export class Drain {
  private active = 0;
  private state: 'serving' | 'draining' = 'serving';
  private readonly asyncInFlight: () => number;
  private readonly idleWaiters = new Set<() => void>();

  constructor(asyncInFlight: () => number = () => 0) {
    this.asyncInFlight = asyncInFlight;
  }

  /** True from the first drain() on: readiness fails, new requests are refused. */
  get draining(): boolean {
    return this.state === 'draining';
  }

  /** Data-port requests being served right now. */
  get inFlight(): number {
    return this.active;
  }

  /** Wraps the data port's handler: counts its requests, and refuses new ones while draining. */
  guard(handler: RequestListener): RequestListener {
    return (req, res) => {
      if (this.draining) return refuse(req, res);
      this.active += 1;
      // 'close' fires once, when the response finished or the client went away: either way the
      // request no longer holds the process up.
      res.once('close', () => {
        this.active -= 1;
        this.notify();
      });
      handler(req, res);
    };
  }

  /** Async work (the async service) calls this when a request of its own ends. */
  notify(): void {
    if (this.idle()) for (const w of [...this.idleWaiters]) w();
  }

  private idle(): boolean {
    return this.active === 0 && this.asyncInFlight() === 0;
  }

  /** Starts draining (idempotent) and resolves when the in-flight work is done or at the deadline. */
  async drain(deadlineMs: number): Promise<DrainResult> {
    this.state = 'draining';
    // Async requests have no HTTP request holding them; their completion is seen by polling too,
    // so a service that never calls notify() still lets the drain end.
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(deadline);
        clearInterval(poll);
        this.idleWaiters.delete(finish);
        resolve();
      };
      const deadline = setTimeout(finish, Math.max(0, deadlineMs));
      const poll = setInterval(() => this.idle() && finish(), 100);
      this.idleWaiters.add(finish);
      if (this.idle()) finish();
    });
    const leftRequests = this.active;
    const leftAsync = this.asyncInFlight();
    return { clean: leftRequests === 0 && leftAsync === 0, leftRequests, leftAsync };
  }
}

/** --drain-timeout / AIROUTE_DRAIN_TIMEOUT: "25s", "1500ms" or plain seconds. The default, 25 s,
 *  ends inside Kubernetes' default 30 s grace period; the injector sets it from the pod's own. */
export function drainDeadline(text: string | undefined): number {
  if (text === undefined || text === '') return 25_000;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m) throw new Error(`--drain-timeout: not a duration: ${text}`);
  return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000));
}

function refuse(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const path = url.split('?')[0]!;
  const anthropic = path.startsWith('/v1/messages') || req.headers['anthropic-version'] !== undefined;
  const err = new AirouteError('unavailable', 503, 'the airoute sidecar is shutting down and takes no new requests; retry on another replica', { retryAfterMs: 1000 });
  // The body may still be arriving: answering without reading it is fine once the connection closes.
  sendError(res, err, anthropic ? 'anthropic' : 'openai', { connection: 'close' });
}
