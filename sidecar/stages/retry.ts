import type { RetrySettings } from '../config/runtime.ts';
import { asAirouteError, type AirouteError } from '../errors.ts';
import type { Stage } from '../pipeline/chain.ts';
import type { TargetExchange } from '../pipeline/exchange.ts';

/** Exponential backoff with full jitter (AWS architecture blog): spreads retries of many clients. */
export function backoffMs(retry: number, policy: RetrySettings, random = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (retry - 1));
  return Math.floor(random() * cap);
}

/** The target said nothing in time: no response headers, or headers and no first token. */
export function isSilence(err: AirouteError): boolean {
  return err.code === 'upstream_no_response' || err.code === 'upstream_first_token_timeout';
}

/**
 * Retries the same target on a retriable failure (429, 408, 5xx, 529, connect/reset), never on a
 * client error. A silent target (first-token timeout) is retried only with `onTimeout: retry`: by
 * default the next target gets the request after the first timeout, rather than the same silent
 * model getting the route's attempts, each a full timeout long. Honours Retry-After /
 * retry-after-ms, never sleeps past the total deadline, and takes each retry from the
 * deployment's (backend x model) retry budget. Acts before the first byte only: a failure after it
 * belongs to the resume stage.
 */
export const retry: Stage<TargetExchange> = (next) => async (x) => {
  const policy = x.route.retry;
  const backend = x.target.backend;
  const budget = x.resilience.deployment(x.target).budget;
  budget.recordRequest();
  for (let n = 1; ; n++) {
    try {
      return await next(x);
    } catch (e) {
      const err = asAirouteError(e);
      if (!err.retriable || x.scope.aborted || n >= policy.attempts) throw err;
      if (isSilence(err) && policy.onTimeout === 'next') throw err;
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
        // On the exchange's timer: the total deadline or the client leaving ends the wait.
        await x.scope.sleep(delayMs);
      } catch {
        throw asAirouteError(x.scope.reason);
      }
    }
  }
};
