// Request bodies: read with a size limit (413 past it) and parsed as the JSON object every
// provider endpoint expects (400 otherwise), both in the error vocabulary of the data plane.
import type { IncomingMessage } from 'node:http';
import { AirouteError } from '../errors.ts';

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

export function parseJsonObject(buf: Buffer | string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8'));
  } catch (err) {
    throw new AirouteError('invalid_json', 400, `We could not parse the JSON body of your request. (${(err as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AirouteError('invalid_json', 400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}
