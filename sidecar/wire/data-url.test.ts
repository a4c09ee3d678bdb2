import { expect, test } from 'vitest';
import { dataUrl, imageOf, splitDataUrl } from './data-url.ts';

const PDF_B64 = Buffer.from('%PDF-1.4 test').toString('base64');

test('splitDataUrl takes a base64 data URL apart (parameters before ;base64 allowed, the type lower-cased); anything else is not one', () => {
  expect(splitDataUrl(`data:application/pdf;base64,${PDF_B64}`)).toEqual({ mediaType: 'application/pdf', data: PDF_B64 });
  expect(splitDataUrl('data:Text/Plain;charset=utf-8;base64,aGk=')).toEqual({ mediaType: 'text/plain', data: 'aGk=' });
  expect(splitDataUrl('data:text/plain,hi')).toBeUndefined();
  expect(splitDataUrl('data:;base64,aGk=')).toBeUndefined();
  expect(splitDataUrl('data:application/pdf;base64')).toBeUndefined();
  expect(splitDataUrl(PDF_B64)).toBeUndefined();
});

test('dataUrl puts one together again: split and joined, a data URL is what it was', () => {
  const url = `data:application/pdf;base64,${PDF_B64}`;
  expect(dataUrl({ mediaType: 'application/pdf', data: PDF_B64 })).toBe(url);
  expect(dataUrl(splitDataUrl(url)!)).toBe(url);
});

test('imageOf: a base64 data URL becomes inline bytes; any other URL (a plain data URL included) stays a URL', () => {
  expect(imageOf('data:image/png;base64,iVBORw0KGgo=')).toEqual({ type: 'image', mediaType: 'image/png', data: 'iVBORw0KGgo=' });
  expect(imageOf('https://img.example/a.png')).toEqual({ type: 'image', url: 'https://img.example/a.png' });
  expect(imageOf('data:image/svg+xml,<svg/>')).toEqual({ type: 'image', url: 'data:image/svg+xml,<svg/>' });
});
