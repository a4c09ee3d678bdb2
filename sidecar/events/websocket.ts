// The same event stream over a WebSocket on the same path (`?after=SEQ`), one JSON event per
// message. A consumer that stops reading is cut off once it has more than a bounded amount
// unsent (close code 4008) instead of growing the sidecar's memory without end.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { JournalGone, JournalUnknown, type Journal } from './journal.ts';

export const WS_MAX_BUFFERED = 1024 * 1024;
export const WS_SLOW_CONSUMER = 4008;
/** A consumer may fall behind this long (a large replay, a slow link) before it is cut off. */
export const SLOW_CONSUMER_GRACE_MS = 5_000;

/** Waits until the unsent bytes fall to `low`; false if the consumer does not read within `ms`. */
async function drainedWithin(ws: WebSocket, low: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (ws.bufferedAmount > low) {
    if (Date.now() > until || ws.readyState !== ws.OPEN) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
const EVENTS_PATH = /^\/airoute\/v1\/requests\/([^/]+)\/events$/;

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: status === 410 ? 'gone' : 'not_found' } });
  socket.end(`HTTP/1.1 ${status} ${status === 410 ? 'Gone' : status === 404 ? 'Not Found' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

export function attachEventsWebSocket(server: Server, journal: () => Journal, maxBuffered = WS_MAX_BUFFERED, graceMs = SLOW_CONSUMER_GRACE_MS): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = EVENTS_PATH.exec(url.pathname);
    if (!m) return refuse(socket, 404, `no WebSocket endpoint at ${url.pathname}`);
    const id = decodeURIComponent(m[1]!);
    const after = Number(url.searchParams.get('after') ?? '0');
    if (!Number.isInteger(after) || after < 0) return refuse(socket, 400, 'after must be a non-negative integer seq');
    const ac = new AbortController();
    let events: AsyncIterable<unknown>;
    try {
      events = journal().follow(id, after, ac.signal);
    } catch (err) {
      if (err instanceof JournalGone) return refuse(socket, 410, `the events of request ${id} are past retention`);
      if (err instanceof JournalUnknown) return refuse(socket, 404, `no request ${id}`);
      throw err;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
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
  });
  return wss;
}
