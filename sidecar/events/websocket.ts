// The same event stream over a WebSocket on the same path (`?after=SEQ`), one JSON event per
// message. A consumer that stops reading is cut off once it has more than a bounded amount
// unsent (close code 4008) instead of growing the sidecar's memory without end.
// Everything before the 101 runs inside one promise whose failure becomes an HTTP error on the
// socket: an upgrade handler that throws would take the whole process down with it.
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { AirouteError, asAirouteError } from '../errors.ts';
import { checkBrowserOrigin, NO_BROWSER_ORIGINS, type BrowserPolicy } from '../net/browser-policy.ts';
import { journalError, type Journal } from './journal.ts';

export const WS_MAX_BUFFERED = 1024 * 1024;
export const WS_SLOW_CONSUMER = 4008;
/** A consumer may fall behind this long (a large replay, a slow link) before it is cut off. */
export const SLOW_CONSUMER_GRACE_MS = 5_000;

const EVENTS_PATH = /^\/airoute\/v1\/requests\/([^/]+)\/events$/;

/** Waits until the unsent bytes fall to `low`; false if the consumer does not read within `ms`. */
async function drainedWithin(ws: WebSocket, low: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (ws.bufferedAmount > low) {
    if (Date.now() > until || ws.readyState !== ws.OPEN) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function refuse(socket: Duplex, err: AirouteError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(err.toOpenAI());
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** The request id and resume position of an events upgrade; 404/400 for anything else. */
export function parseEventsTarget(rawUrl: string | undefined): { id: string; after: number } {
  let url: URL;
  try {
    url = new URL(rawUrl ?? '/', 'http://localhost');
  } catch {
    throw new AirouteError('invalid_request', 400, 'malformed request target');
  }
  const m = EVENTS_PATH.exec(url.pathname);
  if (!m) throw new AirouteError('not_found', 404, `no WebSocket endpoint at ${url.pathname}`);
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    throw new AirouteError('invalid_request', 400, 'malformed percent-escape in the request id');
  }
  const after = Number(url.searchParams.get('after') ?? '0');
  if (!Number.isInteger(after) || after < 0) throw new AirouteError('invalid_request', 400, 'after must be a non-negative integer seq');
  return { id, after };
}

export interface WebSocketOptions {
  maxBuffered?: number;
  graceMs?: number;
  /** Told of a defect in the upgrade path (it ends that socket only). */
  onInternalError?: (err: unknown) => void;
  /** The data port's browser-origin policy: a page may not open another origin's event stream (cross-site WebSocket hijacking). */
  policy?: () => BrowserPolicy;
}

export function attachEventsWebSocket(server: Server, journal: () => Journal, opts: WebSocketOptions = {}): void {
  const maxBuffered = opts.maxBuffered ?? WS_MAX_BUFFERED;
  const graceMs = opts.graceMs ?? SLOW_CONSUMER_GRACE_MS;
  // The WebSocket library is loaded with the first upgrade: most sidecars never get one, and it
  // is resident memory in every pod.
  let wss: Promise<WebSocketServer> | undefined;
  const wsServer = () => (wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 })));

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    checkBrowserOrigin(req, opts.policy?.() ?? NO_BROWSER_ORIGINS);
    const { id, after } = parseEventsTarget(req.url);
    const j = journal();
    // A shared journal answers "unknown" or "gone" only asynchronously: ask before the 101.
    if (j.check) {
      try {
        await j.check(id, after);
      } catch (err) {
        throw err instanceof AirouteError ? err : journalError(err, id);
      }
    }
    if (socket.destroyed) return;
    const ac = new AbortController();
    let events: AsyncIterable<unknown>;
    try {
      events = j.follow(id, after, ac.signal);
    } catch (err) {
      throw journalError(err, id);
    }
    const upgrader = await wsServer();
    if (socket.destroyed) return ac.abort();
    upgrader.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      ws.on('close', () => ac.abort());
      ws.on('error', () => ac.abort());
      void (async () => {
        try {
          for await (const ev of events) {
            if (ws.readyState !== ws.OPEN) return;
            if (ws.bufferedAmount > maxBuffered && !(await drainedWithin(ws, maxBuffered / 2, graceMs))) {
              ws.close(WS_SLOW_CONSUMER, 'slow consumer: events were not read in time');
              ac.abort();
              return;
            }
            ws.send(JSON.stringify(ev));
          }
          ws.close(1000, 'request finished');
        } catch (err) {
          ws.close(4010, (err as Error).message.slice(0, 100));
        }
      })();
    });
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A peer that resets mid-handshake must not surface as an unhandled 'error' event.
    socket.on('error', () => socket.destroy());
    upgrade(req, socket, head).catch((err: unknown) => {
      if (!(err instanceof AirouteError) || err.code === 'internal') opts.onInternalError?.(err);
      refuse(socket, asAirouteError(err));
    });
  });
}
