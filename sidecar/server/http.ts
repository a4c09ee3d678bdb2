// Small HTTP helpers shared by the data and admin listeners.
import type { ServerResponse } from 'node:http';
import { AirouteError } from '../errors.ts';
import type { ClientFormat } from '../chat/types.ts';
import { CLIENT_CODECS } from '../wire/clients.ts';

export const REQUEST_ID_HEADER = 'x-airoute-request-id';

/**
 * A JSON answer, written as bytes. A string body would be appended to the header block and the
 * whole written as one string, which Node flattens and encodes again on every response (this was
 * the single largest cost of a non-streamed answer); bytes go out beside the headers as they are.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  const bytes = body instanceof Uint8Array ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.byteLength, ...headers });
  res.end(bytes);
}

export function sendError(res: ServerResponse, err: AirouteError, format: ClientFormat, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const extra: Record<string, string | number> = { ...headers };
  if (err.status === 413) extra.connection = 'close';
  if (err.details.retryAfterMs !== undefined && (err.status === 429 || err.status === 503)) extra['retry-after'] = Math.ceil(err.details.retryAfterMs / 1000);
  sendJson(res, err.status, CLIENT_CODECS[format].errorBody(err), extra);
}
