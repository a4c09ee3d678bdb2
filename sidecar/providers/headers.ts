// Headers that cross the sidecar on purpose. Inbound: a provider's protocol headers, with which a
// client's SDK says which API version and beta features it speaks (`anthropic-version`,
// `anthropic-beta`, `openai-organization` ...); a backend of the client's own format gets the
// ones its adapter allows, and nothing else of the client's headers goes upstream (the sidecar
// authenticates with its own key). Another format has no use for them: each is about its own API.
// Outbound: the upstream's request id, under the provider's own header name, so the SDK's
// `requestID` and a provider's support desk see the same id.
import type { ClientHeaders } from '../chat/types.ts';
import type { HeaderMap } from './types.ts';

function value(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** The client's protocol headers that this backend accepts; none when the backend speaks another format. */
export function forwardedHeaders(client: ClientHeaders | undefined, allow: readonly string[], sameFormat: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (!client || !sameFormat) return out;
  for (const name of allow) {
    const v = value(client[name]);
    if (v !== undefined && v !== '') out[name] = v;
  }
  return out;
}

/** The upstream's own request-id headers, to hand back to the client. */
export function echoedHeaders(upstream: HeaderMap, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const v = value(upstream[name]);
    if (v !== undefined && v !== '') out[name] = v;
  }
  return out;
}
