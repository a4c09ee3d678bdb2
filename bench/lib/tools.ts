// Finding the tools a peer benchmark installs or starts, and saying why one is not there.
import { spawnSync } from 'node:child_process';

/** A peer that can run (with what it needs), or why it cannot. */
export type Availability<T> = ({ ok: true } & T) | { ok: false; why: string };

/** The command's path on PATH, if any. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

/** The last `n` characters of a tool's output, for an error message. */
export function tail(text: string | null | undefined, n = 600): string {
  return (text ?? '').trim().slice(-n);
}
