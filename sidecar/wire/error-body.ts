// A provider's error reaches a client of the same format as the provider wrote it (secrets
// redacted where it was read, providers/upstream-error.ts): its SDK then raises the provider's own
// error type with the provider's own code, `null` included, rather than the sidecar's rewording.
import type { AirouteError } from '../errors.ts';
import type { ClientFormat, JsonObject } from '../chat/types.ts';
import { isObject } from './json.ts';

export function providerBody(err: AirouteError, format: ClientFormat): JsonObject | undefined {
  const raw = err.details.providerBody;
  // Stryker disable next-line ConditionalExpression: without a body, JSON.parse below throws and the catch answers undefined all the same
  if (raw === undefined) return undefined;
  if (err.details.providerFormat !== format) return undefined;
  try {
    const body: unknown = JSON.parse(raw);
    // Only an error object in the format's own shape goes through; anything else (an HTML page from a proxy) is reworded.
    return isObject(body) && isObject(body.error) ? body : undefined;
  }
  // Stryker disable next-line BlockStatement: an empty catch falls off the end of the function, which answers undefined too
  catch {
    return undefined;
  }
}
