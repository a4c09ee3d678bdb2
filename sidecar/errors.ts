// One error, two wire shapes: the client gets the error format of the endpoint it called, with
// the upstream's status, whichever provider actually failed.
import type { FallbackCondition } from '../api/v1alpha1/config.ts';

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'unsupported_parameter'
  | 'model_not_found'
  | 'not_found'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'not_ready'
  | 'upstream_error'
  | 'upstream_rate_limited'
  | 'upstream_overloaded'
  | 'upstream_auth'
  | 'upstream_connect_failed'
  | 'upstream_reset'
  | 'upstream_no_response'
  | 'upstream_first_token_timeout'
  | 'upstream_idle_timeout'
  | 'upstream_malformed'
  | 'upstream_truncated'
  | 'upstream_protocol_error'
  | 'response_too_large'
  | 'context_length_exceeded'
  | 'content_policy'
  | 'prefill_rejected'
  | 'circuit_open'
  | 'request_timeout'
  | 'stream_interrupted'
  | 'stream_diverged'
  | 'cancelled'
  | 'async_capacity'
  | 'idempotency_conflict'
  | 'callback_not_allowed'
  | 'callback_unauthorized'
  | 'callback_replayed'
  | 'origin_not_allowed'
  | 'host_not_allowed'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'overloaded'
  | 'gone'
  | 'internal'
  // the admin port's own vocabulary (config pushes, identity)
  | 'unauthorized'
  | 'forbidden'
  | 'push_disabled'
  | 'invalid_body'
  | 'invalid_config'
  | 'stale_version'
  | 'identity_unavailable';

/** Where in an attempt a failure happened: before headers, before the first token, or mid-stream. */
export type FailurePhase = 'request' | 'connect' | 'headers' | 'first_token' | 'stream';

export interface ErrorDetails {
  cause?: unknown;
  /** Retrying the same backend may succeed (429, 5xx, reset, timeout). */
  retriable?: boolean;
  /** Which fallback condition this failure satisfies, if any. */
  fallback?: FallbackCondition;
  retryAfterMs?: number;
  phase?: FailurePhase;
  /** The provider's own error type/code, kept so a same-format client sees them unchanged. */
  providerFormat?: 'openai' | 'anthropic' | 'gemini';
  providerType?: string;
  providerCode?: string | null;
  /** The provider's own error body, secrets redacted: a client of the same format gets it as it came. */
  providerBody?: string;
  /** Upstream response headers the client gets too (the provider's request id). */
  responseHeaders?: Record<string, string>;
  param?: string | null;
  backend?: string;
  /** Which breaker refused (`circuit_open`): the deployment's (backend x model) or the host's. */
  circuit?: 'deployment' | 'host';
  /** The backend cannot express this request at all (a parameter its format lacks). */
  incompatible?: boolean;
  /** Extra fields for the client (attempt count, what was delivered). */
  extra?: Record<string, unknown>;
}

export class AirouteError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, status: number, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = status;
    this.details = details;
  }

  get retriable(): boolean {
    return this.details.retriable === true;
  }

  with(details: ErrorDetails): AirouteError {
    return new AirouteError(this.code, this.status, this.message, { ...this.details, ...details });
  }

  toOpenAI(): { error: Record<string, unknown> } {
    const same = this.details.providerFormat === 'openai';
    return {
      error: {
        message: this.message,
        type: (same && this.details.providerType) || openAIType(this.status),
        param: this.details.param ?? null,
        // The provider's own code, null included: a same-format client must see what OpenAI said.
        code: same ? (this.details.providerCode ?? null) : this.code,
        ...(this.details.extra ? { airoute: this.details.extra } : {}),
      },
    };
  }

  toAnthropic(): { type: 'error'; error: Record<string, unknown> } {
    const same = this.details.providerFormat === 'anthropic';
    return {
      type: 'error',
      error: {
        type: (same && this.details.providerType) || anthropicType(this.status),
        message: this.message,
        ...(this.details.extra ? { airoute: { code: this.code, ...this.details.extra } } : {}),
      },
    };
  }
}

function openAIType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function anthropicType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/**
 * Anything thrown that is not an AirouteError is a defect of this process, not an upstream's
 * failure: it is `internal`, and never retried (retrying a bug against another backend would
 * only spend its quota). Upstream failures are classified where they happen (attempt.ts).
 */
export function asAirouteError(err: unknown): AirouteError {
  if (err instanceof AirouteError) return err;
  return new AirouteError('internal', 500, 'internal error in the sidecar', { cause: err });
}

export const invalidRequest = (message: string, param: string | null = null) =>
  new AirouteError('invalid_request', 400, message, { param });
