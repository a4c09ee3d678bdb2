// One attempt's cancellation and clocks (no response, first token, idle between chunks), kept on
// its exchange's scope: the attempt is the scope's occupant while it runs, so the exchange ending
// (client gone, total deadline) cancels it with that reason, and the attempt's own clock running
// out cancels only the attempt, so retry and fallback go on. The transport reads it as its
// Cancellation. One object per attempt: no AbortController, listener or timer of its own.
import type { TimeoutSettings } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';
import type { ExchangeScope, Occupant } from '../pipeline/scope.ts';
import type { Cancellation } from '../upstream/transport.ts';

export type AttemptClockKind = 'no_response' | 'first_token' | 'idle';

/** Why an attempt's own clock stopped it: retriable, and after retries a reason to fall back. */
export function clockError(kind: AttemptClockKind, backend: string, tm: TimeoutSettings): AirouteError {
  const opts = { retriable: true, fallback: 'retries_exhausted' } as const;
  if (kind === 'no_response') return new AirouteError('upstream_no_response', 504, `backend "${backend}" sent no response headers within ${tm.firstTokenMs} ms`, { ...opts, phase: 'headers' });
  if (kind === 'first_token') return new AirouteError('upstream_first_token_timeout', 504, `backend "${backend}" sent no token within ${tm.firstTokenMs} ms`, { ...opts, phase: 'first_token' });
  return new AirouteError('upstream_idle_timeout', 504, `backend "${backend}" stalled for ${tm.idleMs} ms mid-response`, { ...opts, phase: 'stream' });
}

export class AttemptClock implements Occupant, Cancellation {
  /** Why the attempt was cancelled (its clock, or the exchange's reason); undefined while it runs. */
  reason: Error | undefined;
  private hook: ((reason: Error) => void) | undefined;
  private kind: AttemptClockKind = 'no_response';
  private readonly scope: ExchangeScope;
  private readonly backend: string;
  private readonly tm: TimeoutSettings;

  /** Starts the attempt on the scope; on an exchange that already ended it starts cancelled. */
  constructor(scope: ExchangeScope, backend: string, tm: TimeoutSettings) {
    this.scope = scope;
    this.backend = backend;
    this.tm = tm;
    if (scope.reason !== undefined) this.reason = scope.reason;
    else scope.enter(this);
  }

  /** Starts (or restarts) a clock: past `ms`, the attempt is cancelled with that clock's error. */
  arm(kind: AttemptClockKind, ms: number): void {
    this.kind = kind;
    this.scope.arm(this, ms);
  }

  /** Restarts the idle clock (the upstream made progress). */
  readonly progress = (): void => {
    this.kind = 'idle';
    this.scope.arm(this, this.tm.idleMs);
  };

  /** Stops the clock (the sidecar, not the upstream, holds things up now). */
  pause(): void {
    this.scope.disarm(this);
  }

  /** The attempt is over: no clock, and the exchange's end no longer reaches it. Idempotent. */
  release(): void {
    this.scope.leave(this);
  }

  clock(): void {
    this.cancel(clockError(this.kind, this.backend, this.tm));
  }

  abort(reason: Error): void {
    this.cancel(reason);
  }

  onCancel(hook: ((reason: Error) => void) | undefined): void {
    this.hook = hook;
  }

  private cancel(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const hook = this.hook;
    this.hook = undefined;
    hook?.(reason);
  }
}
