// Request bodies: read with a size limit (413 past it) and parsed as the JSON object every
// provider endpoint expects (400 otherwise), both in the error vocabulary of the data plane.
import type { IncomingMessage } from 'node:http';
import { AirouteError } from '../errors.ts';

/**
 * How deeply a request body may nest arrays and objects. JSON.parse takes any depth, but the
 * code after it (translation, JSON.stringify of the upstream request, canonical hashing for
 * idempotency) recurses once per level and overflows the stack at some thousands of levels; no
 * provider request (tool schemas included) comes near this.
 */
export const MAX_JSON_DEPTH = 256;

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

/**
 * Whether a JSON text nests `[`/`{` deeper than `limit` levels, counted outside strings.
 * The scan jumps from one structural character to the next (a native regex search) and over
 * strings with indexOf, so a long prompt or a long array of numbers costs little.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  const structural = /["[\]{}]/g;
  let depth = 0;
  for (let m = structural.exec(text); m; m = structural.exec(text)) {
    const c = text.charCodeAt(m.index);
    if (c === 0x22 /* " */) {
      // to the closing quote: one preceded by an even number of backslashes
      let end = m.index;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return false; // unterminated: JSON.parse reports it
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === 0x5c /* \ */) slashes++;
        if (slashes % 2 === 0) break;
      }
      structural.lastIndex = end + 1;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true;
    } else depth--;
  }
  return false;
}

export function parseJsonObject(buf: Buffer | string): Record<string, unknown> {
  const text = typeof buf === 'string' ? buf : buf.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new AirouteError('invalid_json', 400, `We could not parse the JSON body of your request. (${(err as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AirouteError('invalid_json', 400, 'the request body must be a JSON object');
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new AirouteError('invalid_request', 400, `the JSON body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  return body as Record<string, unknown>;
}
