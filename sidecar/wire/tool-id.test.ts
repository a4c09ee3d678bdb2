import { expect, test } from 'vitest';
import { splitSignature, withSignature } from './tool-id.ts';

test('a signature survives the round trip through an id, which stays within the characters Anthropic allows in ids', () => {
  const signature = 'CiQBjz1rX+/e3Bq8uF==' + 'x'.repeat(300);
  const id = withSignature('call_0_0', signature);
  expect(id).toMatch(/^[a-zA-Z0-9_-]+$/);
  expect(splitSignature(id)).toEqual({ id: 'call_0_0', signature });
});

test('an id without a signature is left as it is, both ways', () => {
  expect(withSignature('toolu_01A', undefined)).toBe('toolu_01A');
  expect(splitSignature('toolu_01A')).toEqual({ id: 'toolu_01A' });
});

test('an id that ends in the signature mark with nothing after it loses the mark and carries no signature', () => {
  expect(splitSignature('call_7_tsig_')).toEqual({ id: 'call_7' });
});
