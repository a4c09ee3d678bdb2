import { expect, test } from 'vitest';
import type { SidecarConfig } from './config.ts';
import { resolveSecretRefs, withSecretRefs } from './snapshot.ts';
import { configHash } from './validate.ts';

const pushed: SidecarConfig = {
  backends: [{ name: 'a', type: 'openai', apiKey: { value: 'sk-test-aaaa' } }, { name: 'd', type: 'demo' }],
  routes: [{ model: 'm', backends: [{ backend: 'a' }] }],
  webhooks: { secret: { value: 'whsec-test' } },
};
const refs = new Map([
  ['backends[0].apiKey', { name: 'keys', key: 'openai' }],
  ['webhooks.secret', { name: 'hooks', key: 'signing' }],
]);

test('the snapshot holds references, never a value; putting the values back gives the pushed document and its hash', () => {
  const snap = withSecretRefs(pushed, refs);
  expect(JSON.stringify(snap)).not.toContain('sk-test-aaaa');
  expect(JSON.stringify(snap)).not.toContain('whsec-test');
  expect(snap).toMatchObject({ backends: [{ apiKey: { secretKeyRef: { name: 'keys', key: 'openai' } } }, { name: 'd' }], webhooks: { secret: { secretKeyRef: { name: 'hooks', key: 'signing' } } } });
  const files: Record<string, string> = { 'keys/openai': 'sk-test-aaaa\n', 'hooks/signing': 'whsec-test' };
  const back = resolveSecretRefs(snap, (r) => files[`${r.name}/${r.key}`]);
  expect(back.missing).toEqual([]);
  expect(configHash(back.config as SidecarConfig)).toBe(configHash(pushed));
});

test('a reference whose Secret is not mounted is reported and left in place', () => {
  const back = resolveSecretRefs(withSecretRefs(pushed, refs), (r) => (r.name === 'keys' ? 'sk-test-aaaa' : undefined));
  expect(back.missing).toEqual([{ name: 'hooks', key: 'signing' }]);
  expect((back.config as { webhooks: unknown }).webhooks).toEqual({ secret: { secretKeyRef: { name: 'hooks', key: 'signing' } } });
});
