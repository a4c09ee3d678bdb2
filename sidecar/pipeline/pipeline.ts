// The data path's one composition. Read top to bottom: each stage wraps the ones below it, and the
// exchange type changes at `fallback` (RouteExchange -> TargetExchange), so the compiler refuses a
// chain in which retry, circuit or attempt would run before a target is chosen.
import { attempt } from '../stages/attempt.ts';
import { circuit } from '../stages/circuit.ts';
import { deadline } from '../stages/deadline.ts';
import { fallback } from '../stages/fallback.ts';
import { resume } from '../stages/resume.ts';
import { retry } from '../stages/retry.ts';
import { chain, type Handler } from './chain.ts';
import type { RouteExchange } from './exchange.ts';

/** Picks a target and tries it: what a request runs first, and what a continuation runs again. */
export const tryTargets: Handler<RouteExchange> = chain<RouteExchange>()
  .then(fallback) // RouteExchange -> TargetExchange; before the first byte only
  .then(retry) //    the same target again; before the first byte only
  .then(circuit) //  skip an open circuit; before the first byte only
  .end(attempt);

/** A whole request, first byte and after. */
export const handle: Handler<RouteExchange> = chain<RouteExchange>()
  .then(deadline) //            the total timeout, before and after the first byte
  .then(resume(tryTargets)) //  after the first byte: a mid-stream failure re-enters tryTargets from the checkpoint
  .end(tryTargets);
