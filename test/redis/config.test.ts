// The journal's config: `journal: {type: redis, url, keyPrefix, password, ownerLeaseMs, retention}`
// validated with paths named; the password from the environment (or pushed as {value}), never in
// the URL; TLS through rediss:// with the server's certificate verified (a private CA through
// NODE_EXTRA_CA_CERTS); and what a later push that changes the store does.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JournalConfig, SidecarConfig } from '../../api/v1alpha1/config.ts';
import { formatIssue, validateConfig } from '../../api/v1alpha1/validate.ts';
import { selfSignedCert } from '../k8s/cert.ts';
import { MockProvider } from '../support/mock-provider.ts';
import { testSidecar } from '../support/sidecar.ts';
import { RedisServer, hasRedis, readSse, spawnSidecar, tempDir, until, writeConfig, type ChildSidecar } from './support.ts';

const base = (journal: unknown) => ({ backends: [{ name: 'demo', type: 'demo' }], routes: [{ model: 'demo', backends: [{ backend: 'demo' }] }], journal });

function issues(journal: unknown): string[] {
  const v = validateConfig(base(journal));
  return v.ok ? [] : v.issues.map(formatIssue);
}

describe('validation', () => {
  test('a Redis journal with its password from the environment or as a pushed value validates', () => {
    expect(issues({ type: 'redis', url: 'rediss://cache.example.com:6380/2', keyPrefix: 'app:', password: { env: 'REDIS_PASSWORD' }, ownerLeaseMs: 5000, retention: { ttlMs: 60000 } })).toEqual([]);
    expect(issues({ type: 'redis', url: 'redis://user@10.0.0.7', password: { value: 's3cret' } })).toEqual([]);
    expect(issues({ type: 'memory' })).toEqual([]);
  });

  test.each<[string, unknown, string]>([
    ['redis without a url', { type: 'redis' }, 'journal.url: required when journal.type is redis'],
    ['not a redis URL', { type: 'redis', url: 'http://cache:6379' }, 'journal.url: must be a redis:// or rediss:// (TLS) URL'],
    ['a password in the URL', { type: 'redis', url: 'redis://:hunter2@cache:6379' }, 'journal.url: must not carry a password: use journal.password'],
    ['a path that is not a database', { type: 'redis', url: 'redis://cache:6379/cache' }, 'journal.url: the path must be a database number'],
    ['a password for the memory journal', { type: 'memory', password: { env: 'X' } }, 'journal.password: only valid when journal.type is redis'],
    ['a lease for the memory journal', { ownerLeaseMs: 5000 }, 'journal.ownerLeaseMs: only valid when journal.type is redis'],
    ['a password both ways', { type: 'redis', url: 'redis://c', password: { env: 'A', value: 'b' } }, 'journal.password: must be {env: NAME} or {value: KEY}'],
    ['a lease too short', { type: 'redis', url: 'redis://c', ownerLeaseMs: 10 }, 'journal.ownerLeaseMs: must be >= 1000'],
    ['an unknown field', { type: 'redis', url: 'redis://c', tls: true }, 'journal.tls: unknown field'],
  ])('refused: %s', (_name, journal, expected) => {
    const got = issues(journal);
    expect(got.join('\n')).toContain(expected);
  });

  test('the password never echoes back in an error', () => {
    expect(issues({ type: 'redis', url: 'ftp://:hunter2@cache' }).join('\n')).not.toContain('hunter2');
    expect(issues({ type: 'redis', url: 'redis://:hunter2@cache' }).join('\n')).not.toContain('hunter2');
  });

  test('the additions are sidecar-only and optional: the AIRoute keeps embedding the plain JournalConfig', () => {
    expect(Object.keys(JournalConfig.properties).sort()).toEqual(['keyPrefix', 'retention', 'type', 'url']);
    const sidecarJournal = (SidecarConfig.properties.journal as unknown as { properties: Record<string, unknown>; required?: string[] });
    expect(Object.keys(sidecarJournal.properties)).toEqual(expect.arrayContaining(['password', 'ownerLeaseMs']));
    expect(sidecarJournal.required ?? []).toEqual([]);
  });
});

describe.skipIf(!hasRedis)('password and TLS', () => {
  const PASSWORD = 'pw-' + Math.random().toString(36).slice(2);
  let plain: RedisServer;
  let tls: RedisServer;
  let mock: MockProvider;
  let child: ChildSidecar | undefined;
  let caFile: string;

  beforeAll(async () => {
    const cert = selfSignedCert('localhost');
    caFile = path.join(tempDir('airoute-ca-'), 'ca.pem');
    writeFileSync(caFile, cert.cert);
    [plain, tls, mock] = await Promise.all([new RedisServer({ password: PASSWORD }).start(), new RedisServer({ password: PASSWORD, tls: cert }).start(), new MockProvider().start()]);
  });
  afterAll(async () => {
    await child?.kill('SIGTERM');
    await mock?.stop();
    await plain?.stop();
    await tls?.stop();
  });

  test('the password comes from the environment; without it (or a wrong one) readiness says why and async is refused', async () => {
    process.env.AIROUTE_TEST_REDIS_PW = PASSWORD;
    const ok = await testSidecar(base({ type: 'redis', url: plain.url, password: { env: 'AIROUTE_TEST_REDIS_PW' } }));
    const unset = await testSidecar(base({ type: 'redis', url: plain.url, password: { env: 'AIROUTE_TEST_REDIS_PW_UNSET' } }));
    const wrong = await testSidecar(base({ type: 'redis', url: plain.url, password: { value: 'not-it' } }));
    try {
      expect((await fetch(`${ok.adminURL}/readyz`)).status).toBe(200);
      const r1 = await (await fetch(`${unset.adminURL}/readyz`)).json();
      expect(r1).toMatchObject({ status: 'degraded', reasons: [expect.stringContaining('journal.password.env: environment variable AIROUTE_TEST_REDIS_PW_UNSET is not set')] });
      const r2 = (await until('auth error', async () => {
        const r = (await (await fetch(`${wrong.adminURL}/readyz`)).json()) as { reasons?: string[] };
        return r.reasons?.[0]?.includes('WRONGPASS') ? r : undefined;
      })) as { reasons: string[] };
      expect(r2.reasons[0]).not.toContain('not-it');
      const refused = await fetch(`${unset.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'x' }] }) });
      expect(refused.status).toBe(503);
      expect(unset.logs.join('\n')).not.toContain(PASSWORD);
      expect(ok.logs.join('\n')).not.toContain(PASSWORD);
    } finally {
      delete process.env.AIROUTE_TEST_REDIS_PW;
      await Promise.all([ok.close(), unset.close(), wrong.close()]);
    }
  });

  test('rediss:// with the password from the environment and the server certificate checked against a private CA (NODE_EXTRA_CA_CERTS)', async () => {
    const file = writeConfig({
      backends: [{ name: 'a', type: 'openai-compatible', baseURL: `${mock.url}/v1` }],
      routes: [{ model: 'chat', backends: [{ backend: 'a' }] }],
      journal: { type: 'redis', url: tls.url, keyPrefix: 'tls:', password: { env: 'REDIS_PASSWORD' } },
    });
    child = await spawnSidecar(file, { REDIS_PASSWORD: PASSWORD, NODE_EXTRA_CA_CERTS: caFile });
    await until('ready over TLS', async () => (await fetch(`${child!.adminURL}/readyz`)).status === 200, 10_000);
    mock.answer = { text: 'over TLS' };
    const res = await fetch(`${child.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const { events } = await readSse(await fetch(`${child.url}/airoute/v1/requests/${id}/events`));
    expect(events.at(-1)!.type).toBe('request.completed');
    expect(await tls.client().exists(`tls:{${id}}:s`)).toBe(1);
    expect(child.out()).not.toContain(PASSWORD);
    await child.kill('SIGTERM');

    // the same certificate without the CA is refused: TLS is verified, not merely encrypted
    child = await spawnSidecar(file, { REDIS_PASSWORD: PASSWORD });
    const ready = (await until('refusal', async () => {
      const r = (await (await fetch(`${child!.adminURL}/readyz`)).json()) as { reasons?: string[] };
      return r.reasons?.length ? r : undefined;
    })) as { reasons: string[] };
    expect(ready.reasons[0]).toMatch(/unreachable.*(self-signed|certificate)/i);
  });

  test('a push that changes the journal store keeps the running store until a restart; its retention applies', async () => {
    const tokenDir = tempDir('airoute-token-');
    writeFileSync(path.join(tokenDir, 'token'), 'tok');
    process.env.AIROUTE_TEST_REDIS_PW = PASSWORD;
    const sc = await testSidecar(base({ type: 'redis', url: plain.url, password: { env: 'AIROUTE_TEST_REDIS_PW' } }), { adminTokenFile: path.join(tokenDir, 'token') });
    try {
      const before = sc.journal;
      const push = await fetch(`${sc.adminURL}/config`, {
        method: 'PUT',
        headers: { authorization: 'Bearer tok', 'content-type': 'application/json' },
        body: JSON.stringify({ version: 2, config: base({ type: 'memory', retention: { ttlMs: 5000 } }) }),
      });
      expect(push.status).toBe(200);
      expect(sc.journal).toBe(before);
      expect(sc.logs.join('\n')).toContain('journal store settings changed');
      expect((await fetch(`${sc.adminURL}/readyz`)).status).toBe(200);
      // the new retention (ttlMs 5000) governs what is written from now on, still in Redis
      const res = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'x' }] }) });
      const id = res.headers.get('x-airoute-request-id')!;
      await res.text();
      await until('stored', async () => (await plain.client().exists(`airoute:{${id}}:s`)) === 1);
      const ttl = await until('terminal written', async () => {
        const t = await plain.client().pttl(`airoute:{${id}}:s`);
        return t > 0 && t <= 5000 ? t : undefined;
      });
      expect(ttl).toBeLessThanOrEqual(5000);
    } finally {
      delete process.env.AIROUTE_TEST_REDIS_PW;
      await sc.close();
    }
  });
});
