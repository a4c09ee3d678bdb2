// Client-side helpers for the hardening tests: a request's whole event log, and raw bytes on a
// socket for what fetch refuses to send (malformed targets, odd headers, upgrades).
import { connect } from 'node:net';
import type { LifecycleEvent } from '../../sidecar/events/types.ts';

/** A finished request's events, read over SSE until its terminal event ends the stream. */
export async function eventsOf(dataURL: string, id: string): Promise<LifecycleEvent[]> {
  const res = await fetch(`${dataURL}/airoute/v1/requests/${id}/events`);
  if (res.status !== 200) throw new Error(`events of ${id}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as LifecycleEvent);
}

export interface RawAnswer {
  /** The status code of the first response, or undefined if the socket closed without one. */
  status: number | undefined;
  head: string;
  body: string;
}

/** Sends `bytes` as is and reads until the server closes or `timeoutMs` passes. */
export function rawExchange(port: number, bytes: string | Buffer, timeoutMs = 3000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(parts).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const head = at === -1 ? text : text.slice(0, at);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : undefined, head, body: at === -1 ? '' : text.slice(at + 4) });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      parts.push(d);
      // one complete response is enough: a keep-alive server would otherwise hold the socket
      const text = Buffer.concat(parts).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      if (at === -1) return;
      const head = text.slice(0, at);
      if (/^HTTP\/1\.[01] 101/.test(head)) return finish();
      const len = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (len && text.length - at - 4 >= Number(len[1])) finish();
      if (/\r\ntransfer-encoding: *chunked/i.test(head) && text.endsWith('\r\n0\r\n\r\n')) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}
