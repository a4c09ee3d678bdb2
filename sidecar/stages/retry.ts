import { setTimeout as sleep } from 'node:timers/promises';
import type { RetrySettings } from '../config/runtime.ts';
import { asAirouteError } from '../errors.ts';
import type { Stage } from '../pipeline/chain.ts';
import type { TargetExchange } from '../pipeline/exchange.ts';

/** Exponential backoff with full jitter (AWS architecture blog): spreads retries of many clients. */
export function backoffMs(retry: number, policy: RetrySettings, random = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (retry - 1));
  return Math.floor(random() * cap);
}

/**
 * Retries the same backend on a retriable failure (429, 408, 5xx, 529, connect/reset, first-token
 * timeout), never on a client error. Honours Retry-After / retry-after-ms, never sleeps past the
 * total deadline, and takes each retry from the backend's retry budget. Acts before the first
 * byte only: a failure after it belongs to the resume stage.
 */
export const retry: Stage<TargetExchange> = (next) => async (x) => {
  const policy = x.route.retry;
  const backend = x.target.backend;
  const budget = x.resilience.for(backend).budget;
  budget.recordRequest();
  for (let n = 1; ; n++) {
    try {
      return await next(x);
    } catch (e) {
      const err = asAirouteError(e);
      if (!err.retriable || x.signal.aborted || n >= policy.attempts) throw err;
      const hinted = policy.honorRetryAfter ? err.details.retryAfterMs : undefined;
      const delayMs = hinted ?? backoffMs(n, policy);
      // A wait that ends after the deadline is not a retry; let the next backend try instead.
      if (Date.now() + delayMs >= x.deadline) throw err;
      if (!budget.tryRetry(policy.budgetPercent)) throw err.with({ extra: { ...err.details.extra, retryBudgetExhausted: true } });
      x.lifecycle.emit('retry.scheduled', {
        backend: backend.name,
        delayMs,
        reason: err.code,
        ...(hinted !== undefined ? { retryAfterMs: hinted } : {}),
      });
      try {
        await sleep(delayMs, undefined, { signal: x.signal });
      } catch {
        throw asAirouteError(x.signal.reason);
      }
    }
  }
};
