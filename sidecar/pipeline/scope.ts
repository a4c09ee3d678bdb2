// One exchange's cancellation and clocks, on one Node timer. An exchange ends early for one reason
// (the client left, the total deadline passed, an async cancel), and that reason must reach whatever
// runs at that moment: an attempt in flight, a stream reaching the client, or a backoff sleep.
// Attempts run one at a time, so the exchange has one occupant at a time, and one phase clock (the
// occupant's: no response, first token, idle, or the sleep's end) besides the deadline.
//
// Why not an AbortController per exchange and per attempt with a timer each, as before: Node's
// AbortSignal is an EventTarget, and its listeners, the controllers and a timer per clock and per
// layer were a measurable share of the sidecar's CPU and garbage per request. Here an abort is a
// field and a direct call, and both clocks share one timer, armed for the earliest due time.
// Moving a clock later (every chunk restarts the idle clock) costs a clock read, not a timer
// operation: the timer fires at the old time, finds nothing due and re-arms for what is left.
// A far deadline is waited for in steps no longer than the shortest attempt clock: a clock armed
// later is then never due before the timer fires, so an exchange that ends within one step (most
// do) makes one timer and clears it, whatever its attempts armed.
// An AbortSignal is made only for a caller that needs one (`signal`), at most once.
// (The clock is the global `performance`, read at each call, so tests can fake it with the timers.)
/** What runs in an exchange now: an attempt, or a backoff sleep between two. */
export interface Occupant {
  /** Its phase clock ran out. */
  clock(): void;
  /** The exchange ended early: stop, with this reason. */
  abort(reason: Error): void;
}

export class ExchangeScope {
  /** Why the exchange ended early; undefined while it runs. The first reason stays. */
  reason: Error | undefined;
  private occupant: Occupant | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The due time the timer was set for (performance.now() ms). */
  private timerDue = Number.POSITIVE_INFINITY;
  /** Its length, to re-arm it with refresh() when the next wait is as long. */
  private timerMs = 0;
  /** The longest the timer waits while no clock but the deadline runs. */
  private step = Number.POSITIVE_INFINITY;
  private deadlineAt = Number.POSITIVE_INFINITY;
  private deadlineReason: (() => Error) | undefined;
  private phaseAt = Number.POSITIVE_INFINITY;
  private ended = false;

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** Whether an attempt or a backoff sleep runs now (what an abort would reach). */
  get occupied(): boolean {
    return this.occupant !== undefined;
  }

  /** Ends the exchange early: the occupant stops with this reason. A second abort is a no-op. */
  readonly abort = (reason: Error): void => {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.deadlineAt = Number.POSITIVE_INFINITY;
    this.occupant?.abort(reason);
    this.controller?.abort(reason);
  };

  /** For an API that takes an AbortSignal: one per exchange, made on first use, aborted with the exchange's reason. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason !== undefined) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /**
   * The total deadline: `ms` from now, the exchange is aborted with `reason()`. `stepMs`, the
   * shortest clock an attempt will arm, is how long the timer waits at a time until then.
   */
  deadline(ms: number, reason: () => Error, stepMs = ms): void {
    if (this.ended || this.reason !== undefined) return;
    const now = performance.now();
    this.deadlineAt = now + ms;
    this.deadlineReason = reason;
    // Stryker disable next-line MethodExpression: only how often the timer wakes while the deadline is far; nothing fires earlier or later
    this.step = Math.max(1, stepMs);
    this.schedule(now);
  }

  /** `o` runs now: an exchange abort reaches it. (An exchange already ended is the caller's to check, through `reason`.) */
  enter(o: Occupant): void {
    this.occupant = o;
    this.phaseAt = Number.POSITIVE_INFINITY;
  }

  /** `o` is done: its clock stops, and an abort no longer reaches it. */
  leave(o: Occupant): void {
    if (this.occupant !== o) return;
    this.occupant = undefined;
    this.phaseAt = Number.POSITIVE_INFINITY;
    if (this.deadlineAt === Number.POSITIVE_INFINITY) this.stopTimer();
    // A clock left running keeps the process alive; the deadline alone never did.
    // Stryker disable next-line OptionalChaining: a deadline always has its timer (deadline() schedules one), so the timer is set here
    else this.timer?.unref();
  }

  /** Starts (or restarts) the occupant's clock: `ms` from now, `o.clock()` is called. */
  arm(o: Occupant, ms: number): void {
    if (this.occupant !== o || this.ended) return;
    const now = performance.now();
    this.phaseAt = now + ms;
    this.schedule(now);
  }

  /**
   * Stops the occupant's clock until it is armed again. The timer stays as it is (it fires, finds
   * nothing due and re-arms for what is left): a stream pauses and restarts its idle clock around
   * every read, and that must not cost a timer operation each time.
   */
  disarm(o: Occupant): void {
    if (this.occupant === o) this.phaseAt = Number.POSITIVE_INFINITY;
  }

  /** Waits `ms` (a retry's backoff); an exchange abort ends the wait with its reason. */
  sleep(ms: number): Promise<void> {
    if (this.reason !== undefined) return Promise.reject(this.reason);
    return new Promise<void>((resolve, reject) => {
      const sleeper: Occupant = {
        clock: () => {
          this.leave(sleeper);
          resolve();
        },
        abort: (reason) => {
          this.leave(sleeper);
          reject(reason);
        },
      };
      this.enter(sleeper);
      this.arm(sleeper, ms);
    });
  }

  /** The request is over, whatever its outcome: no clock fires any more. */
  end(): void {
    this.ended = true;
    this.deadlineAt = Number.POSITIVE_INFINITY;
    this.phaseAt = Number.POSITIVE_INFINITY;
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  /** Makes the timer fire no later than the earliest due time. */
  private schedule(now: number): void {
    const due = Math.min(this.deadlineAt, this.phaseAt);
    if (due === Number.POSITIVE_INFINITY) return;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: timerDue is infinite whenever there is no timer; and a timer due exactly then, made again, fires at the same time
    if (this.timer !== undefined && this.timerDue <= due) {
      // It fires first, and re-arms then for what is left.
      if (this.phaseAt !== Number.POSITIVE_INFINITY) this.timer.ref();
      return;
    }
    // Whole milliseconds: Node keeps one timer list per distinct length.
    let ms = Math.max(1, Math.ceil(due - now));
    let at = due;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: a step as long as what is left is the same wait; and the step is never longer than the shortest clock an attempt arms (deadline()'s stepMs), so the timer it sets always fires before any clock is due
    if (this.phaseAt === Number.POSITIVE_INFINITY && ms > this.step) {
      ms = Math.ceil(this.step);
      at = now + ms;
    }
    // Stryker disable next-line ConditionalExpression: refresh() and a new timer of the same length fire at the same time; refresh only saves the allocation
    if (this.timer !== undefined && ms === this.timerMs) this.timer.refresh();
    else {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = setTimeout(this.fire, ms);
      this.timerMs = ms;
    }
    this.timerDue = at;
    if (this.phaseAt === Number.POSITIVE_INFINITY) this.timer.unref();
    else this.timer.ref();
  }

  private readonly fire = (): void => {
    const armedFor = this.timerDue;
    this.timerDue = Number.POSITIVE_INFINITY;
    // Node's timers run on the event loop's cached clock, which may lag performance.now() a little:
    // a clock that has not moved since the timer was set for it is due, whatever the reading says.
    const now = performance.now();
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: either test alone decides every case a fake clock can make (it reads exactly the armed time); both stay for a real event loop, whose cached clock may fire a timer a little before performance.now() reaches it, or late
    if (this.deadlineAt <= now || this.deadlineAt === armedFor) {
      this.timer = undefined;
      this.abort(this.deadlineReason!());
      return;
    }
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: as for the deadline above
    if (this.phaseAt <= now || this.phaseAt === armedFor) {
      this.phaseAt = Number.POSITIVE_INFINITY;
      // Stryker disable next-line OptionalChaining: a clock is armed only for the occupant (arm() checks), and leave() clears it, so there is one here
      this.occupant?.clock();
    }
    // Re-arms for what is left (refresh() is allowed here, inside the timer's own callback).
    this.schedule(now);
    // Stryker disable next-line ConditionalExpression: a fired timer kept as set is refreshed or cleared later like a live one, which Node allows: the same clocks fire
    if (this.timerDue === Number.POSITIVE_INFINITY) this.timer = undefined;
  };
}
