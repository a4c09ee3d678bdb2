// The event and async suites (test/events/lifecycle.test.ts), run unchanged on the Redis
// journal: every sidecar the suite starts is given `journal: {type: redis}` on a fresh key prefix
// of this file's redis-server. Same contract, shared store.
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { RedisServer, hasRedis } from './support.ts';

const shared = vi.hoisted(() => ({ url: '', n: 0 }));

vi.mock('../support/sidecar.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../support/sidecar.ts')>();
  return {
    ...real,
    testSidecar: (config: Record<string, unknown> | undefined, opts?: Parameters<typeof real.testSidecar>[1]) =>
      real.testSidecar(config && { ...config, journal: { ...(config.journal as object | undefined), type: 'redis', url: shared.url, keyPrefix: `conf${++shared.n}:` } }, opts),
  };
});

let redis: RedisServer | undefined;
beforeAll(async () => {
  if (!hasRedis) return;
  redis = await new RedisServer().start();
  shared.url = redis.url;
});
afterAll(async () => {
  await redis?.stop();
});

// Registered after the hooks above, so the suite's sidecars start once Redis is up.
if (hasRedis) await import('../events/lifecycle.test.ts');

test.skipIf(!hasRedis)('the suite above ran on the Redis journal', async () => {
  expect((await redis!.client().keys('conf*')).length).toBeGreaterThan(0);
});
