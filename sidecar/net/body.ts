// Request bodies: read with a size limit (413 past it) and parsed as the JSON object every
// provider endpoint expects (400 otherwise), both in the error vocabulary of the data plane.
import type { IncomingMessage } from 'node:http';
import { AirouteError } from '../errors.ts';
import { scanJsonObject, type RawJson } from '../wire/raw-json.ts';

/**
 * How deeply a request body may nest arrays and objects. JSON.parse takes any depth, but the
 * code after it (translation, JSON.stringify of the upstream request, canonical hashing for
 * idempotency) recurses once per level and overflows the stack at some thousands of levels; no
 * provider request (tool schemas included) comes near this.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Reads a request body up to `limit` bytes; past it, a 413 in the endpoint's error shape. Plain
 * 'data'/'end' listeners rather than `for await`: a stream's async iterator costs a handful of
 * objects and ticks per request on the hot path, for a body that is nearly always one chunk.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => new AirouteError('body_too_large', 413, `request body exceeds the limit of ${limit} bytes`);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        // Stop reading: the 413 goes out with `connection: close`, and what is left is never parsed.
        req.pause();
        return reject(tooLarge());
      }
      if (!first) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)));
    };
    const onError = (err: Error) => {
      done();
      reject(new AirouteError('cancelled', 499, `the client's request body could not be read (${err.message})`));
    };
    // A client that leaves mid-body: nothing was asked of an upstream yet, and nobody is left to answer.
    const onClose = () => {
      done();
      reject(new AirouteError('cancelled', 499, 'the client closed the connection before its request body arrived'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** The body parsed, and its text with where its top-level members are (wire/raw-json.ts), from one scan. */
export function parseJsonBody(buf: Buffer | string): { body: Record<string, unknown>; raw: RawJson } {
  const text = typeof buf === 'string' ? buf : buf.toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new AirouteError('invalid_json', 400, `We could not parse the JSON body of your request. (${(err as Error).message})`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AirouteError('invalid_json', 400, 'the request body must be a JSON object');
  const scan = scanJsonObject(text, MAX_JSON_DEPTH);
  if (scan.tooDeep) throw new AirouteError('invalid_request', 400, `the JSON body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  return { body: body as Record<string, unknown>, raw: scan.raw };
}

export function parseJsonObject(buf: Buffer | string): Record<string, unknown> {
  return parseJsonBody(buf).body;
}
