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
