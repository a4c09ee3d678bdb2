// Shrinks a screenshot PNG by re-encoding it with a 256-colour palette. A UI screenshot has a few
// thousand colours, nearly all of them rare antialiasing shades: the 256 most common cover about
// 96 % of the pixels, and mapping the rest to their nearest palette colour is invisible at 1x,
// while the file gets about three times smaller. Handles what Chromium writes (8-bit RGB or RGBA,
// not interlaced); anything else is returned unchanged.
import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The pixels as 0xRRGGBB numbers, or undefined for a PNG this does not handle. */
function decode(png: Buffer): { width: number; height: number; pixels: Uint32Array } | undefined {
  if (!png.subarray(0, 8).equals(SIGNATURE)) return undefined;
  let pos = 8;
  let width = 0;
  let height = 0;
  let bpp = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('ascii', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || interlace !== 0 || (colour !== 2 && colour !== 6)) return undefined;
      bpp = colour === 2 ? 3 : 4;
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const pixels = new Uint32Array(width * height);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? line[x - bpp]! : 0;
      const b = prev[x]!;
      const c = x >= bpp ? prev[x - bpp]! : 0;
      const add = filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : filter === 4 ? paeth(a, b, c) : 0;
      line[x] = (line[x]! + add) & 0xff;
    }
    // A transparent pixel is drawn over white, as a page background would be.
    for (let x = 0; x < width; x++) {
      const o = x * bpp;
      const alpha = bpp === 4 ? line[o + 3]! / 255 : 1;
      const ch = (i: number) => Math.round(line[o + i]! * alpha + 255 * (1 - alpha));
      pixels[y * width + x] = (ch(0) << 16) | (ch(1) << 8) | ch(2);
    }
    prev = line;
  }
  return { width, height, pixels };
}

export function toPalette(png: Buffer): Buffer {
  const img = decode(png);
  if (!img) return png;
  const counts = new Map<number, number>();
  for (const p of img.pixels) counts.set(p, (counts.get(p) ?? 0) + 1);
  const palette = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 256).map(([c]) => c);
  const index = new Map(palette.map((c, i) => [c, i]));
  const nearest = (c: number): number => {
    let best = 0;
    let bestD = Infinity;
    for (const [i, p] of palette.entries()) {
      const dr = (c >> 16) - (p >> 16);
      const dg = ((c >> 8) & 0xff) - ((p >> 8) & 0xff);
      const db = (c & 0xff) - (p & 0xff);
      const d = 2 * dr * dr + 4 * dg * dg + 3 * db * db;
      if (d < bestD) [best, bestD] = [i, d];
    }
    index.set(c, best);
    return best;
  };
  const rows = Buffer.alloc(img.height * (img.width + 1));
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const c = img.pixels[y * img.width + x]!;
      rows[y * (img.width + 1) + 1 + x] = index.get(c) ?? nearest(c);
    }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(img.width, 0);
  ihdr.writeUInt32BE(img.height, 4);
  ihdr.set([8, 3, 0, 0, 0], 8);
  const plte = Buffer.alloc(palette.length * 3);
  palette.forEach((c, i) => plte.set([c >> 16, (c >> 8) & 0xff, c & 0xff], i * 3));
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('PLTE', plte), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
