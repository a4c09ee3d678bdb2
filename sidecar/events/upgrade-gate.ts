// WebSocket upgrades on the events path, for journals that answer "unknown" or "gone" only
// asynchronously (Redis): the upgrade handler (websocket.ts) asks follow() synchronously and
// upgrades whatever does not throw, so without this gate an unknown id would get a 101 and then a
// close instead of a 404. The gate awaits `journal.check()` and refuses with 404/410/503 (or
// passes the upgrade on, untouched) before the handler sees it. With the memory journal (no
// check()) it passes everything straight through.
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { AirouteError } from '../errors.ts';
import { JournalGone, JournalUnknown, type Journal } from './journal.ts';

const EVENTS_PATH = /^\/airoute\/v1\/requests\/([^/]+)\/events$/;

function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', code } });
  const reason = status === 410 ? 'Gone' : status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** An 'upgrade' source for attachEventsWebSocket that emits only the upgrades the journal can serve. */
export function gateEventUpgrades(server: Server, journal: () => Journal): Server {
  const gated = new EventEmitter();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const j = journal();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = EVENTS_PATH.exec(url.pathname);
    const after = Number(url.searchParams.get('after') ?? '0');
    if (!j.check || !m || !Number.isInteger(after) || after < 0) return void gated.emit('upgrade', req, socket, head);
    const id = decodeURIComponent(m[1]!);
    j.check(id, after).then(
      () => {
        if (!socket.destroyed) gated.emit('upgrade', req, socket, head);
      },
      (err: unknown) => {
        if (socket.destroyed) return;
        if (err instanceof JournalGone) refuse(socket, 410, 'gone', `the events of request ${id} are past retention`);
        else if (err instanceof JournalUnknown) refuse(socket, 404, 'not_found', `no request ${id}`);
        else if (err instanceof AirouteError) refuse(socket, err.status, err.code, err.message);
        else refuse(socket, 500, 'internal', 'internal error');
      },
    );
  });
  // attachEventsWebSocket only listens for 'upgrade' on what it is given.
  return gated as unknown as Server;
}
