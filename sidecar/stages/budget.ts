// Retry budget per deployment, a backend x an upstream model (after Finagle's RetryBudget and
// Envoy's retry_budget): retries may add at most `percent` of the requests seen over a sliding
// window, plus a small floor so a quiet deployment can still be retried. When a model fails for
// everyone, retries stay a bounded fraction of traffic instead of multiplying the outage.
import { SlidingWindow } from './window.ts';

export const BUDGET_WINDOW_MS = 10_000;
/** Retries always allowed per window, whatever the traffic. */
export const BUDGET_FLOOR = 10;

export class RetryBudget {
  private readonly window = new SlidingWindow(['requests', 'retries'] as const, BUDGET_WINDOW_MS);
  /** Retries refused so far (monotonic, for metrics). */
  exhausted = 0;

  recordRequest(now = Date.now()): void {
    this.window.add('requests', now);
  }

  /** Takes one retry from the budget if there is one. */
  tryRetry(percent: number, now = Date.now()): boolean {
    const allowed = BUDGET_FLOOR + (this.window.sum('requests', now) * percent) / 100;
    if (this.window.sum('retries', now) + 1 > allowed) {
      this.exhausted++;
      return false;
    }
    this.window.add('retries', now);
    return true;
  }
}
