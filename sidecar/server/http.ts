// Small HTTP helpers shared by the data and admin listeners.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { AirouteError } from '../errors.ts';
import type { ClientFormat } from '../chat/types.ts';

export const REQUEST_ID_HEADER = 'x-airoute-request-id';

/** Reads a request body up to `limit` bytes; past it, a 413 in the endpoint's error shape. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => new AirouteError('body_too_large', 413, `request body exceeds the limit of ${limit} bytes`);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

export function parseJsonObject(buf: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new AirouteError('invalid_json', 400, `We could not parse the JSON body of your request. (${(err as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AirouteError('invalid_json', 400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: AirouteError, format: ClientFormat, headers: Record<string, string | number> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const extra: Record<string, string | number> = { ...headers };
  if (err.status === 413) extra.connection = 'close';
  if (err.details.retryAfterMs !== undefined && (err.status === 429 || err.status === 503)) extra['retry-after'] = Math.ceil(err.details.retryAfterMs / 1000);
  sendJson(res, err.status, format === 'anthropic' ? err.toAnthropic() : err.toOpenAI(), extra);
}

/** Resolves when the socket can take more, or when the client is gone (then writing stops anyway). */
export async function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return;
  const ac = new AbortController();
  try {
    await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}
