// The demo screenshots in docs/demo/ must show today's page: the script records a hash of every
// file that decides what the page shows, and this fails when one changed without a regeneration.
import { readFile } from 'node:fs/promises';
import { deflateSync, inflateSync } from 'node:zlib';
import { expect, test } from 'vitest';
import { readManifest, staleness } from '../scripts/demo-screenshots.ts';
import { toPalette } from '../scripts/png-palette.ts';
import { DEMO_ROUTES } from '../sidecar/config/demo.ts';

test('the screenshots in docs/demo are current (regenerate with npm run docs:screenshots)', async () => {
  expect(await staleness()).toBeUndefined();
  const manifest = (await readManifest())!;
  expect(manifest.screenshots.map((s) => s.model)).toEqual(DEMO_ROUTES.map((r) => r.model));
  expect(manifest.files).toEqual(expect.arrayContaining(['sidecar/upstream/demo.ts', 'sidecar/config/demo.ts', 'sidecar/server/demo/page/app.ts', 'client/state.ts']));
  for (const s of manifest.screenshots) {
    const png = await readFile(new URL(`../docs/demo/${s.file}`, import.meta.url));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length, s.file).toBeLessThan(300 * 1024); // small enough to keep in the repository
  }
});

test("the README's first screen shows a screenshot, links every route's, and its Try it has a curl for each demo route", async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const firstScreen = readme.slice(0, readme.indexOf('## Contents'));
  expect(firstScreen).toMatch(/!\[[^\]]+\]\(docs\/demo\/demo-flaky\.png\)/);
  const tryIt = readme.slice(readme.indexOf('## Try it'), readme.indexOf('## Adopting'));
  for (const { model } of DEMO_ROUTES) {
    expect(firstScreen, model).toContain(`(docs/demo/${model}.png)`);
    expect(tryIt, model).toMatch(new RegExp(`curl [^\n]*\\\n[^\n]*"model":"${model}"`));
  }
});

// A minimal PNG codec for the test: RGB rows with a given filter in, palette rows out.
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, Buffer.from(type, 'ascii'), data, Buffer.alloc(4)]); // CRC unchecked by the decoder under test
}

function rgbPng(width: number, rows: number[][], filters: number[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const raw: number[] = [];
  let prev = new Array<number>(width * 3).fill(0);
  rows.forEach((row, y) => {
    const line = row.flatMap((c) => [c >> 16, (c >> 8) & 0xff, c & 0xff]);
    const f = filters[y % filters.length]!;
    raw.push(f);
    line.forEach((v, x) => {
      const a = x >= 3 ? line[x - 3]! : 0;
      const b = prev[x]!;
      const c = x >= 3 ? prev[x - 3]! : 0;
      const p = a + b - c;
      const pae = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : f === 4 ? pae : 0;
      raw.push((v - pred) & 0xff);
    });
    prev = line;
  });
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.from(raw))), chunk('IEND', Buffer.alloc(0))]);
}

function paletteRows(png: Buffer): { colourType: number; palette: number[]; rows: number[][] } {
  let pos = 8;
  let width = 0;
  let colourType = 0;
  let palette: number[] = [];
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('ascii', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') [width, colourType] = [data.readUInt32BE(0), data[9]!];
    if (type === 'PLTE') palette = Array.from({ length: len / 3 }, (_, i) => (data[i * 3]! << 16) | (data[i * 3 + 1]! << 8) | data[i * 3 + 2]!);
    if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rows: number[][] = [];
  for (let y = 0; y * (width + 1) < raw.length; y++) {
    expect(raw[y * (width + 1)]).toBe(0);
    rows.push([...raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1))].map((i) => palette[i]!));
  }
  return { colourType, palette, rows };
}

test('a screenshot re-encoded with a palette keeps every pixel when it has 256 colours or fewer, whatever the row filters', () => {
  const width = 24;
  const rows = Array.from({ length: 10 }, (_, y) => Array.from({ length: width }, (_, x) => ((x * 10 + y) << 16) | ((y * 25) << 8) | ((x + y) % 3) * 100));
  const out = paletteRows(toPalette(rgbPng(width, rows, [0, 1, 2, 3, 4])));
  expect(out.colourType).toBe(3);
  expect(out.rows).toEqual(rows);
});

test('past 256 colours, the most common keep their exact colour and each rare one becomes its nearest', () => {
  const width = 40;
  const common = Array.from({ length: 256 }, (_, i) => i * 0x010101); // 256 greys, each many times
  const rows = Array.from({ length: 260 }, (_, y) => Array.from({ length: width }, (_, x) => common[(x * 7 + y) % 256]!));
  rows[0]![0] = 0xfe0000; // one rare red: its nearest grey replaces it
  rows[1]![0] = 0x808081; // one rare near-grey: becomes 0x808080
  const out = paletteRows(toPalette(rgbPng(width, rows, [2, 4])));
  expect(out.palette).toHaveLength(256);
  expect(out.rows[1]![0]).toBe(0x808080);
  expect(common).toContain(out.rows[0]![0]);
  expect(out.rows.slice(2)).toEqual(rows.slice(2));
});
