// Which upstream failures are worth another try, on this backend or the next. The lists are
// explicit because getting them wrong is what users file bugs about: retrying a 400 burns
// quota, and hiding a content-policy refusal behind a fallback changes the answer's meaning.
import { AirouteError, type ErrorCode, type ErrorDetails } from '../errors.ts';
import type { HeaderMap } from './types.ts';

export interface ProviderErrorInfo {
  message: string;
  type?: string;
  code?: string | null;
  param?: string | null;
}

const CONTEXT_LENGTH = /context[_ ]length|context window|maximum context|prompt is too long|input is too long|too many (input )?tokens|exceeds the (maximum|max) (number of )?tokens/i;
const CONTENT_POLICY = /content[_ ]?(management )?(policy|filter)|responsible ai|safety (system|settings)|flagged/i;
/** Key-shaped strings a provider may echo back (OpenAI masks keys in 401 messages, but not always all of them). */
const KEY_SHAPED = /\b(sk-(ant-|proj-)?[A-Za-z0-9_*.-]{6,}|AIza[0-9A-Za-z_-]{10,})/g;

export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out.replace(KEY_SHAPED, '[redacted]');
}

function redactValue(v: unknown, secrets: readonly string[]): unknown {
  if (typeof v === 'string') return redactSecrets(v, secrets);
  if (Array.isArray(v)) return v.map((x) => redactValue(x, secrets));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactValue(x, secrets)]));
  return v;
}

/**
 * The redaction boundary (attempt.ts applies it to every failure of an attempt): an upstream's
 * failure as the rest of the sidecar may see it. Every string the upstream could have put in it
 * (the message, the provider's own type, code and param, any extra field) is scrubbed of the
 * configured secrets and of key-shaped strings; from here on it reaches clients, events, polls,
 * webhooks and logs as is. The cause is kept for the process itself and never serialised.
 */
export function redactError(err: AirouteError, secrets: readonly string[]): AirouteError {
  const d = err.details;
  const redact = (s: string | null | undefined) => (typeof s === 'string' ? redactSecrets(s, secrets) : s);
  return new AirouteError(err.code, err.status, redactSecrets(err.message, secrets), {
    ...d,
    ...(d.providerType !== undefined ? { providerType: redact(d.providerType) as string } : {}),
    ...(d.providerCode !== undefined ? { providerCode: redact(d.providerCode) as string | null } : {}),
    ...(d.param !== undefined ? { param: redact(d.param) as string | null } : {}),
    ...(d.extra !== undefined ? { extra: redactValue(d.extra, secrets) as Record<string, unknown> } : {}),
    ...(d.providerBody !== undefined ? { providerBody: redactSecrets(d.providerBody, secrets) } : {}),
    ...(d.responseHeaders !== undefined ? { responseHeaders: redactValue(d.responseHeaders, secrets) as Record<string, string> } : {}),
  });
}

function header(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `retry-after-ms` (OpenAI, Azure), then `retry-after` as seconds or an HTTP-date. */
export function retryAfterMs(headers: HeaderMap, now = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '' && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Math.ceil(Number(ms));
  const ra = header(headers, 'retry-after');
  if (ra === undefined || ra.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.ceil(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function classifyUpstream(
  status: number,
  headers: HeaderMap,
  info: ProviderErrorInfo,
  backend: string,
  /** The shape of the provider's error body (a Responses upstream answers errors as Chat Completions does: `openai`). */
  providerFormat: NonNullable<ErrorDetails['providerFormat']>,
): AirouteError {
  const text = `${info.code ?? ''} ${info.type ?? ''} ${info.message}`;
  const base = {
    backend,
    providerFormat,
    phase: 'headers' as const,
    providerType: info.type,
    providerCode: info.code ?? null,
    param: info.param ?? null,
  };
  const make = (code: ErrorCode, extra: Partial<ConstructorParameters<typeof AirouteError>[3]> = {}) =>
    new AirouteError(code, status, info.message, { ...base, ...extra });

  if (status === 429) return make('upstream_rate_limited', { retriable: true, fallback: 'retries_exhausted', retryAfterMs: retryAfterMs(headers) });
  if (status === 529 || info.type === 'overloaded_error')
    return make('upstream_overloaded', { retriable: true, fallback: 'retries_exhausted', retryAfterMs: retryAfterMs(headers) });
  if (status === 408) return make('upstream_error', { retriable: true, fallback: 'retries_exhausted' });
  if (status >= 500 && status !== 501)
    return make('upstream_error', { retriable: true, fallback: 'retries_exhausted', retryAfterMs: retryAfterMs(headers) });
  if (status === 401 || status === 403) return make('upstream_auth', { fallback: 'auth' });
  if (status === 404) return make('model_not_found', { fallback: 'model_not_found' });
  if (CONTEXT_LENGTH.test(text)) return make('context_length_exceeded', { fallback: 'context_length' });
  if (CONTENT_POLICY.test(text)) return make('content_policy');
  return make(status >= 500 ? 'upstream_error' : 'invalid_request');
}

/** Parses `{"error": {...}}` (OpenAI, Azure, Gemini) or `{"type":"error","error":{...}}` (Anthropic). */
export function providerErrorInfo(status: number, body: string, secrets: readonly string[]): ProviderErrorInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const err = (parsed as { error?: unknown } | undefined)?.error;
  if (err && typeof err === 'object') {
    const e = err as Record<string, unknown>;
    const message = typeof e.message === 'string' ? e.message : `upstream answered ${status}`;
    const type = typeof e.type === 'string' ? e.type : typeof e.status === 'string' ? e.status : undefined;
    const code = typeof e.code === 'string' ? e.code : null;
    const param = typeof e.param === 'string' ? e.param : null;
    return { message: redactSecrets(message, secrets), type, code, param };
  }
  if (typeof err === 'string') return { message: redactSecrets(err, secrets) };
  const snippet = body.slice(0, 200).trim();
  return { message: redactSecrets(snippet ? `upstream answered ${status}: ${snippet}` : `upstream answered ${status}`, secrets) };
}
