// A provider's non-2xx answer as an AirouteError: classified (retriable? which fallback?), and
// with the provider's own body kept, secrets redacted, so a client of the same format gets the
// error exactly as the provider wrote it (its type, its code, null included) rather than the
// sidecar's rewording.
import type { AirouteError, ErrorDetails } from '../errors.ts';
import { classifyUpstream, providerErrorInfo, redactSecrets } from './classify.ts';
import type { HeaderMap } from './types.ts';

export function upstreamError(status: number, body: string, headers: HeaderMap, secrets: readonly string[], format: NonNullable<ErrorDetails['providerFormat']>): AirouteError {
  const err = classifyUpstream(status, headers, providerErrorInfo(status, body, secrets), '', format);
  return body.trim() === '' ? err : err.with({ providerBody: redactSecrets(body, secrets) });
}
