// What a client-format stream writer must do. One encoder per client stream: it remembers what the
// client has already been told (message started, open content block, the stream's id), so that
// after a mid-stream recovery the continuation joins the same message instead of starting anew.
import type { AirouteError } from '../errors.ts';
import type { Frame, StreamEvent } from '../chat/types.ts';

export interface StreamEncoder {
  /** The upstream's own bytes for a same-format frame, or undefined to drop it (state is updated either way). */
  passthrough(frame: Frame): string | undefined;
  /** Client-format bytes for neutral events. */
  encode(events: readonly StreamEvent[]): string;
  /** Terminal frames after a successful stream (`[DONE]`, `message_stop`). */
  end(): string;
  /** A final in-stream error in the shape the client's SDK raises as an exception. */
  error(err: AirouteError): string;
}
