import { Webhook } from 'standardwebhooks';
import { expect, test } from 'vitest';
import { ReplayGuard, SIGNATURE_TOLERANCE_MS, verifyCompletion } from './completion.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
function sign(msgId: string, body: string) {
  const now = new Date();
  return { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(SECRET).sign(msgId, now, body) };
}

test('a message id is accepted once while its signature could still be valid, then forgotten; the guard stays bounded', () => {
  const g = new ReplayGuard(3);
  expect(g.claim('a', 0)).toBe(true);
  expect(g.claim('a', 1000)).toBe(false);
  expect(g.claim('a', 2 * SIGNATURE_TOLERANCE_MS + 1)).toBe(true); // long expired: its timestamp would be refused anyway
  for (const id of ['b', 'c', 'd', 'e']) g.claim(id, 10);
  expect(g.size).toBeLessThanOrEqual(3);
});

test('the signed body must name the request; the payload is what it carries', () => {
  const g = new ReplayGuard();
  const body = JSON.stringify({ requestId: 'req-1', payload: { ok: true } });
  expect(verifyCompletion('req-1', body, sign('m1', body), SECRET, g)).toEqual({ ok: true });
  const other = JSON.stringify({ requestId: 'req-1', payload: 1 });
  expect(() => verifyCompletion('req-2', other, sign('m2', other), SECRET, g)).toThrow(/"requestId": "req-2", not "req-1"/);
  expect(() => verifyCompletion('req-1', body, sign('m1', body), SECRET, g)).toThrow(/already used/);
  expect(() => verifyCompletion('req-1', body, sign('m3', `${body} `), SECRET, g)).toThrow(/signed/);
  expect(() => verifyCompletion('req-1', body, sign('m4', body), undefined, g)).toThrow(/signed/);
});

test('an id stays refused until twice the tolerance after its first use, and is accepted from that instant', () => {
  const g = new ReplayGuard();
  expect(g.claim('a', 1_000)).toBe(true);
  expect(g.claim('a', 1_000 + 2 * SIGNATURE_TOLERANCE_MS - 1)).toBe(false);
  expect(g.claim('a', 1_000 + 2 * SIGNATURE_TOLERANCE_MS)).toBe(true);
});

test('a full guard forgets its oldest id first, and only to make room for a new one', () => {
  const g = new ReplayGuard(2);
  expect([g.claim('a', 0), g.claim('b', 1), g.claim('c', 2)]).toEqual([true, true, true]);
  expect(g.size).toBe(2);
  expect(g.claim('a', 3)).toBe(true); // the oldest, forgotten to make room for c; b goes now
  expect([g.claim('c', 4), g.claim('a', 5)]).toEqual([false, false]);
});

test('refused replays make a full guard forget nothing', () => {
  const g = new ReplayGuard(2);
  g.claim('a', 0);
  g.claim('b', 1);
  for (let i = 0; i < 5; i++) expect(g.claim('b', 2 + i)).toBe(false);
  expect(g.size).toBe(2);
  expect(g.claim('a', 10)).toBe(false);
});

test('the id remembered against replay is the one the signature covers, even when the header came twice', () => {
  const g = new ReplayGuard();
  const body = JSON.stringify({ requestId: 'req-1', payload: 'x' });
  const once = sign('m1', body);
  expect(verifyCompletion('req-1', body, { ...once, 'webhook-id': ['m1', 'm-other'] }, SECRET, g)).toBe('x');
  expect(() => verifyCompletion('req-1', body, once, SECRET, g)).toThrow(/already used/);
});

test('a completion without a payload carries null; a foreign request id is quoted to at most 100 characters', () => {
  const body = JSON.stringify({ requestId: 'req-1' });
  expect(verifyCompletion('req-1', body, sign('m1', body), SECRET, new ReplayGuard())).toBeNull();
  const foreign = 'r'.repeat(150);
  const other = JSON.stringify({ requestId: foreign });
  expect(() => verifyCompletion('req-1', other, sign('m2', other), SECRET, new ReplayGuard())).toThrow(
    `the /complete call is not accepted: the signed body must carry "requestId": "req-1", not "${'r'.repeat(100)}"`,
  );
});

test('a replay is refused with 409 callback_replayed; a bad signature or wrong request with 401 callback_unauthorized', () => {
  const g = new ReplayGuard();
  const body = JSON.stringify({ requestId: 'req-1', payload: 1 });
  const m = sign('m1', body);
  verifyCompletion('req-1', body, m, SECRET, g);
  expect(() => verifyCompletion('req-1', body, m, SECRET, g)).toThrow(expect.objectContaining({ code: 'callback_replayed', status: 409 }));
  expect(() => verifyCompletion('req-2', body, sign('m2', body), SECRET, g)).toThrow(expect.objectContaining({ code: 'callback_unauthorized', status: 401 }));
  expect(() => verifyCompletion('req-1', body, { ...sign('m3', body), 'webhook-signature': undefined }, SECRET, g)).toThrow(
    expect.objectContaining({ code: 'callback_unauthorized', status: 401, message: 'the /complete call is not accepted: it must be signed with the webhook secret (Standard Webhooks headers)' }),
  );
});

test('a signed body without a requestId is refused, saying which id it must carry', () => {
  const body = JSON.stringify({ payload: 1 });
  expect(() => verifyCompletion('req-1', body, sign('m1', body), SECRET, new ReplayGuard())).toThrow(
    expect.objectContaining({ code: 'callback_unauthorized', message: 'the /complete call is not accepted: the signed body must carry "requestId": "req-1"' }),
  );
});
