import type { IncomingMessage } from 'node:http';
import { expect, test } from 'vitest';
import { checkBrowserOrigin, hostName, requireJsonBody } from './browser-policy.ts';

const req = (headers: Record<string, string>, method = 'POST') => ({ method, headers }) as unknown as IncomingMessage;
const policy = { allowOrigins: new Set(['https://app.example.com']), allowHosts: new Set(['airoute.internal']) };

test('Host values are reduced to their name: port, brackets, case and a trailing dot go; anything else is malformed', () => {
  expect(hostName('LocalHost:4000')).toBe('localhost');
  expect(hostName('[::1]:4000')).toBe('::1');
  expect(hostName('[::ffff:127.0.0.1]')).toBe('::ffff:127.0.0.1');
  expect(hostName('airoute.internal.')).toBe('airoute.internal');
  expect(hostName('a b')).toBeUndefined();
  expect(hostName('[not-an-ip]:80')).toBeUndefined();
  expect(hostName('evil.example%2f')).toBeUndefined();
  expect(hostName('user@host')).toBeUndefined();
});

test('Origin: absent or same origin passes without CORS; a listed origin passes with its origin echoed; the default port is the same origin', () => {
  expect(checkBrowserOrigin(req({ host: '127.0.0.1:4000' }), policy)).toBeUndefined();
  expect(checkBrowserOrigin(req({ host: '127.0.0.1:4000', origin: 'http://127.0.0.1:4000' }), policy)).toBeUndefined();
  expect(checkBrowserOrigin(req({ host: 'localhost:80', origin: 'http://localhost' }), policy)).toBeUndefined();
  expect(checkBrowserOrigin(req({ host: '127.0.0.1:4000', origin: 'https://APP.example.com' }), policy)).toBe('https://app.example.com');
  expect(() => checkBrowserOrigin(req({ host: '127.0.0.1:4000', origin: 'http://localhost:4000' }), policy)).toThrow(/not allowed/);
  expect(() => checkBrowserOrigin(req({ host: 'evil.example:4000', origin: 'http://evil.example:4000' }), policy)).toThrow(/Host/);
});

test('a POST body must be declared JSON; a bodiless POST and other methods need no content type', () => {
  expect(() => requireJsonBody(req({ 'content-type': 'text/plain', 'content-length': '2' }))).toThrow(/must be JSON/);
  expect(() => requireJsonBody(req({ 'transfer-encoding': 'chunked' }))).toThrow(/got none/);
  expect(() => requireJsonBody(req({ 'content-type': 'text/plain' }))).toThrow();
  expect(() => requireJsonBody(req({ 'content-type': 'Application/JSON; charset=utf-8', 'content-length': '2' }))).not.toThrow();
  expect(() => requireJsonBody(req({ 'content-type': 'application/merge-patch+json', 'content-length': '2' }))).not.toThrow();
  expect(() => requireJsonBody(req({}))).not.toThrow();
  expect(() => requireJsonBody(req({ 'content-type': 'text/plain' }, 'GET'))).not.toThrow();
});
