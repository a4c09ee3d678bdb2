// The admin port's bearer token (standalone use: --admin-token-file), read from a file and read
// again whenever the file changes, so rotation needs no restart.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class TokenFile {
  private readonly path: string;
  private mtimeMs = -1;
  private digest: Buffer | undefined;

  constructor(path: string) {
    this.path = path;
  }

  private async current(): Promise<Buffer | undefined> {
    try {
      const s = await stat(this.path);
      if (s.mtimeMs !== this.mtimeMs) {
        const token = (await readFile(this.path, 'utf8')).trim();
        this.digest = token ? sha256(token) : undefined;
        this.mtimeMs = s.mtimeMs;
      }
    } catch {
      this.digest = undefined;
      this.mtimeMs = -1;
    }
    return this.digest;
  }

  /** Constant-time comparison of digests, so neither the token nor its length leaks through timing. */
  async verify(presented: string): Promise<boolean> {
    const want = await this.current();
    return want !== undefined && timingSafeEqual(want, sha256(presented));
  }

  async configured(): Promise<boolean> {
    return (await this.current()) !== undefined;
  }
}
