// The I/O boundary of the data path: send one upstream request, get status, headers and a body
// stream. Real providers go over HTTP (http.ts); the demo backend answers in-process (demo.ts).
import type { HeaderMap, UpstreamRequest } from '../providers/types.ts';

export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  body: AsyncIterable<Uint8Array>;
  /** Stop reading and release the connection (or discard the rest in the background). */
  discard(): void;
}

export interface SendOptions {
  signal: AbortSignal;
  connectTimeoutMs: number;
  /** The attempt's number within its request (1-based). Only the demo backend reads it, to script "fail the first attempt". */
  attempt?: number;
}

export interface Transport {
  send(req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse>;
}
