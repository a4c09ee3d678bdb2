// GET /airoute/v1/requests/{id}/events as Server-Sent Events: `id:` is the event's seq, so a
// browser EventSource (or our client) resumes with Last-Event-ID and gets exactly what it missed.
// No `event:` field: every event reaches `onmessage`, its type is in the JSON.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AirouteError, asAirouteError } from '../errors.ts';
import { drained } from '../net/backpressure.ts';
import { JournalGone, journalError, type Journal } from './journal.ts';
import type { LifecycleEvent } from './types.ts';

export const HEARTBEAT_MS = 15_000;

export function eventFrame(ev: LifecycleEvent): string {
  return `id: ${ev.seq}\ndata: ${JSON.stringify(ev)}\n\n`;
}

/** `Last-Event-ID` wins over `?after=`; both mean "the last seq I have". */
export function resumeFrom(req: IncomingMessage, query: URLSearchParams): number {
  const raw = (req.headers['last-event-id'] as string | undefined) ?? query.get('after') ?? '0';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new AirouteError('invalid_request', 400, `invalid resume position "${raw}": expected a non-negative integer seq`);
  return n;
}

export async function serveEventStream(journal: Journal, id: string, after: number, res: ServerResponse, heartbeatMs = HEARTBEAT_MS): Promise<void> {
  const ac = new AbortController();
  let events: AsyncIterable<LifecycleEvent>;
  try {
    events = journal.follow(id, after, ac.signal);
  } catch (err) {
    throw journalError(err, id);
  }
  res.on('close', () => ac.abort());
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(': airoute events\n\n');
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
  try {
    for await (const ev of events) {
      if (!res.write(eventFrame(ev))) await drained(res);
      if (res.destroyed) break;
    }
  } catch (err) {
    // evicted mid-follow: say so in-stream, the status line is long gone
    const e = err instanceof JournalGone ? journalError(err, id) : asAirouteError(err);
    if (!res.destroyed) res.write(`event: error\ndata: ${JSON.stringify(e.toOpenAI())}\n\n`);
  } finally {
    clearInterval(heartbeat);
    ac.abort();
    if (!res.destroyed) res.end();
  }
}
