import { expect, test } from 'vitest';
import { allowedBy, forbiddenAddress, networkList, parseAllowEntry, parseNetwork } from './destinations.ts';

const entries = ['https://hooks.example.com', 'http://127.0.0.1:3510/hooks', 'https://api.example.com/v1/cb/'].map((e) => parseAllowEntry(e)!);
const allowed = (u: string) => allowedBy(new URL(u), entries);

test('entries are plain http(s) URLs: credentials, queries and fragments are refused', () => {
  expect(parseAllowEntry('https://hooks.example.com')).toEqual({ protocol: 'https:', host: 'hooks.example.com', port: '443', segments: [] });
  expect(parseAllowEntry('http://[::1]:8080/a/b/')).toEqual({ protocol: 'http:', host: '::1', port: '8080', segments: ['a', 'b'] });
  for (const bad of ['ftp://x', 'https://u:p@x', 'https://x/?q=1', 'https://x/#f', 'not a url']) expect(parseAllowEntry(bad), bad).toBeUndefined();
});

test('scheme, host and port match exactly; the path by whole segments', () => {
  expect(allowed('https://hooks.example.com/anything/at/all')).toBe(true);
  expect(allowed('https://hooks.example.com:443/x')).toBe(true);
  expect(allowed('https://HOOKS.example.com./x')).toBe(true);
  expect(allowed('https://hooks.example.com.evil.com/')).toBe(false);
  expect(allowed('https://evil.hooks.example.com/')).toBe(false);
  expect(allowed('https://hooks.example.com:8443/')).toBe(false);
  expect(allowed('http://hooks.example.com/')).toBe(false);
  expect(allowed('http://127.0.0.1:3510/hooks')).toBe(true);
  expect(allowed('http://127.0.0.1:3510/hooks/a')).toBe(true);
  expect(allowed('http://127.0.0.1:35100/hooks')).toBe(false);
  expect(allowed('http://127.0.0.1:3510/hooksevil')).toBe(false);
  expect(allowed('http://127.0.0.1:3510/')).toBe(false);
  expect(allowed('https://api.example.com/v1/cb')).toBe(true);
  expect(allowed('https://api.example.com/v1/cbx')).toBe(false);
  expect(allowed('https://api.example.com/v1/%63b')).toBe(false); // an encoded letter is another segment, not the same one
});

test('non-public addresses are forbidden unless their network was opened; IPv4-mapped IPv6 is checked as IPv4', () => {
  const none = networkList([]);
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '224.0.0.1'])
    expect(forbiddenAddress(a, none), a).toBe(true);
  for (const a of ['93.184.216.34', '2606:2800:220:1::1', '::ffff:93.184.216.34']) expect(forbiddenAddress(a, none), a).toBe(false);
  const opened = networkList(['10.0.0.0/8', '127.0.0.2']);
  expect(forbiddenAddress('10.9.9.9', opened)).toBe(false);
  expect(forbiddenAddress('127.0.0.2', opened)).toBe(false);
  expect(forbiddenAddress('127.0.0.1', opened)).toBe(true);
  expect(forbiddenAddress('169.254.169.254', opened)).toBe(true);
});

test('networks parse as CIDRs or single addresses', () => {
  expect(parseNetwork('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, type: 'ipv4' });
  expect(parseNetwork('::1')).toEqual({ address: '::1', prefix: 128, type: 'ipv6' });
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'x/8', '::1/129', '10.0.0.0/-1', '10.0.0.0/8a']) expect(parseNetwork(bad), bad).toBeUndefined();
});
