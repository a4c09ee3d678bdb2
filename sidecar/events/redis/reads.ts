// Reads and replay: the events of a request after a seq, as far as the store has them, and
// whether a request is kept, gone (410: evicted or expired) or unknown (404). Every read first
// waits for this process's queued writes (`settled`), so the sidecar that ran a request reads its
// own writes.
import { JournalGone, JournalUnknown, type ReadResult } from '../journal.ts';
import type { LifecycleEvent } from '../types.ts';
import type { StoreLink } from './connection.ts';
import { eventsOf, seqOfEntryId, type KeyLayout, type StreamEntry } from './keys.ts';

/** Entries per XRANGE: a long stream is read in pages, never in one reply. */
export const READ_PAGE = 1_000;

export class StreamReader {
  private readonly link: StoreLink;
  private readonly keys: KeyLayout;
  private readonly settled: () => Promise<void>;

  constructor(link: StoreLink, keys: KeyLayout, settled: () => Promise<void>) {
    this.link = link;
    this.keys = keys;
    this.settled = settled;
  }

  /** Whether an id whose keys are gone was once kept (410) or never (404). */
  private async goneOrUnknown(id: string): Promise<'gone' | 'unknown'> {
    const [live, gone] = await this.link.exec(this.link.client.pipeline().zscore(this.keys.live, id).zscore(this.keys.gone, id));
    return live !== null || gone !== null ? 'gone' : 'unknown';
  }

  async read(id: string, after: number): Promise<ReadResult> {
    await this.settled();
    const s = this.keys.stream(id);
    const meta = this.keys.meta(id);
    const [page, ended, first, known] = (await this.link.exec(
      this.link.client.pipeline().xrange(s, String(after + 1), '+', 'COUNT', READ_PAGE).hget(meta, 'e').xrange(s, '-', '+', 'COUNT', 1).exists(meta),
    )) as [StreamEntry[], string | null, StreamEntry[], number];
    if (!first.length && !known) return { status: await this.goneOrUnknown(id) };
    // the events asked for were trimmed: the first one kept is past them
    if (page.length && seqOfEntryId(page[0]![0]) > after + 1 && first.length && first[0]![0] === page[0]![0]) return { status: 'gone' };
    const entries = [...page];
    while (entries.length && entries.length % READ_PAGE === 0) {
      const more = (await this.link.io(() => this.link.client.xrange(s, `(${entries.at(-1)![0]}`, '+', 'COUNT', READ_PAGE))) as StreamEntry[];
      if (!more.length) break;
      entries.push(...more);
    }
    return { status: 'ok', events: eventsOf(entries), ended: ended !== null };
  }

  /** Rejects with JournalUnknown / JournalGone when the request, or the events after `after`, are not kept. */
  async check(id: string, after: number): Promise<void> {
    await this.settled();
    const s = this.keys.stream(id);
    const [from, first, known] = (await this.link.exec(
      this.link.client.pipeline().xrange(s, String(after + 1), '+', 'COUNT', 1).xrange(s, '-', '+', 'COUNT', 1).exists(this.keys.meta(id)),
    )) as [StreamEntry[], StreamEntry[], number];
    if (!first.length && !known) throw (await this.goneOrUnknown(id)) === 'gone' ? new JournalGone(id) : new JournalUnknown(id);
    // the events asked for were trimmed (or never reached the store): as with the memory journal, gone
    if (first.length && seqOfEntryId(first[0]![0]) > after + 1 && from.length && from[0]![0] === first[0]![0]) throw new JournalGone(id);
  }

  /** Up to `count` events from seq `from` on, and the seq of the first event still kept. */
  async range(id: string, from: number, count: number): Promise<{ events: LifecycleEvent[]; firstSeq: number | undefined }> {
    const s = this.keys.stream(id);
    const [page, first] = (await this.link.exec(this.link.client.pipeline().xrange(s, String(from), '+', 'COUNT', count).xrange(s, '-', '+', 'COUNT', 1))) as [StreamEntry[], StreamEntry[]];
    return { events: eventsOf(page), firstSeq: first.length ? seqOfEntryId(first[0]![0]) : undefined };
  }
}
