// What one attempt's outcome says about its deployment (backend x model) and about the host, fed
// to the two breakers that admitted it. Each breaker hears an outcome for every admitted attempt
// (success, failure, or neutral), so a half-open probe slot is always given back; a stream that
// fails after its first content counts against the deployment once more.
import type { AirouteError } from '../errors.ts';
import type { CircuitBreaker } from './circuit-breaker.ts';

/** Failures of the host itself, whatever model was asked: nothing came back from it. */
export function isHostFailure(err: AirouteError): boolean {
  if (err.code === 'upstream_connect_failed') return true;
  // A reset before any response byte: the host (or the model's worker behind it) dropped us.
  return err.code === 'upstream_reset' && err.details.phase === 'headers';
}

/**
 * Counts against the deployment: the model, not the client or the host's network, is at fault.
 * A refused connection is the host's alone; a refused assistant prefix is a capability, not
 * ill health (the resume restarts in verify mode); a client error says nothing about the model.
 */
export function isDeploymentFailure(err: AirouteError): boolean {
  return err.retriable && err.code !== 'upstream_connect_failed' && err.code !== 'prefill_rejected';
}

export class AttemptHealth {
  private readonly deployment: CircuitBreaker;
  private readonly host: CircuitBreaker;
  private hostSettled = false;

  constructor(deployment: CircuitBreaker, host: CircuitBreaker) {
    this.deployment = deployment;
    this.host = host;
  }

  /** Response headers arrived, whatever the status: the host is alive. */
  responded(): void {
    if (this.hostSettled) return;
    this.hostSettled = true;
    this.host.success();
  }

  /** The model answered with content (or a complete body): that is its health signal. */
  answered(): void {
    this.responded();
    this.deployment.success();
  }

  /** The attempt failed, before or after its first byte. */
  failed(err: AirouteError): void {
    if (isDeploymentFailure(err)) this.deployment.failure();
    else this.deployment.neutral();
    if (this.hostSettled) return;
    this.hostSettled = true;
    if (isHostFailure(err)) this.host.failure();
    else this.host.neutral();
  }
}
