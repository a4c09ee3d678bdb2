// The one terminal event of a request, its cleanup, and its record for logs and metrics.
import { performance } from 'node:perf_hooks';
import type { AirouteError } from '../errors.ts';
import type { RequestOutcome, Sidecar } from '../sidecar.ts';
import type { RouteExchange } from './exchange.ts';
import type { Tally } from './tally.ts';

export function outcomeOf(err: AirouteError | undefined): RequestOutcome {
  if (!err) return 'success';
  if (err.code === 'cancelled') return 'cancelled';
  return err.code === 'stream_interrupted' || err.code === 'stream_diverged' ? 'interrupted' : 'error';
}

export function finish(sc: Sidecar, x: RouteExchange, tally: Tally, t0: number, err?: AirouteError, completedExtra: Record<string, unknown> = {}): void {
  // No clock of this request may fire after its end (the deadline would sit there for totalMs).
  x.scope.end();
  if (err?.code === 'internal') sc.defect('pipeline', err.details.cause ?? err);
  const lc = x.lifecycle;
  const durationMs = performance.now() - t0;
  const outcome = outcomeOf(err);
  if (!err)
    lc.emit('request.completed', {
      backend: tally.backend,
      model: tally.model,
      finishReasons: tally.finish,
      ...(tally.usage ? { usage: tally.usage } : {}),
      attempts: lc.attempt,
      durationMs: Math.round(durationMs),
      ...(tally.uninspected ? { uninspected: tally.uninspected } : {}),
      ...completedExtra,
    });
  else if (outcome === 'cancelled') lc.emit('request.cancelled', { reason: String(err.details.extra?.reason ?? err.message), attempts: lc.attempt });
  else lc.emit('request.failed', { error: { code: err.code, status: err.status, message: err.message, ...(err.details.extra ?? {}) }, attempts: lc.attempt });
  // Fields assigned, not spread in conditionally: this runs once per request, and each
  // `...(cond ? {...} : {})` made a throwaway object.
  sc.finished({
    id: x.id,
    operation: x.request.operation,
    format: x.request.format,
    route: x.route.model,
    backend: tally.backend || undefined,
    model: tally.model || undefined,
    provider: tally.provider || undefined,
    stream: x.request.stream,
    outcome,
    status: err ? err.status : 200,
    code: err?.code,
    attempts: lc.attempt,
    retries: lc.counts['retry.scheduled'] ?? 0,
    fallbacks: lc.counts.fallback ?? 0,
    resumes: lc.counts['stream.resumed'] ?? 0,
    durationMs,
    ttftMs: tally.firstByteAt !== undefined ? tally.firstByteAt - t0 : undefined,
    outputChunks: tally.chunks,
    usage: tally.usage,
  });
}
