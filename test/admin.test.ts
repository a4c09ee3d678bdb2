// The admin port contract (DESIGN.md): readiness, GET/PUT /config with a bearer token read from a
// file (re-read when it changes), 401/403/409/422/200, atomic swap, and the source AIRoute in metrics.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { testSidecar, type TestSidecar } from './support/sidecar.ts';

let sc: TestSidecar;
let tokenFile: string;
const config = (model: string) => ({ backends: [{ name: 'd', type: 'demo', demo: { tokens: 3, tokensPerSecond: 1000 } }], routes: [{ model, backends: [{ backend: 'd' }] }] });

beforeAll(async () => {
  tokenFile = join(await mkdtemp(join(tmpdir(), 'airoute-admin-')), 'token');
  await writeFile(tokenFile, 'first-token\n');
  sc = await testSidecar(undefined, { waitForPush: true, adminTokenFile: tokenFile });
});
afterAll(async () => {
  await sc?.close();
});

const put = (body: unknown, token?: string) =>
  fetch(`${sc.adminURL}/config`, { method: 'PUT', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

test('a sidecar waiting for a push is not ready, then serves exactly the pushed routes', async () => {
  expect((await fetch(`${sc.adminURL}/readyz`)).status).toBe(503);
  expect(await (await fetch(`${sc.adminURL}/config`)).json()).toEqual({ version: 0, hash: null });
  expect((await fetch(`${sc.dataURL}/v1/models`)).status).toBe(503);
  const r = await put({ version: 1, config: config('first'), source: { namespace: 'team-a', name: 'chat' } }, 'first-token');
  expect(r.status).toBe(200);
  const body = (await r.json()) as { version: number; hash: string };
  expect(body).toMatchObject({ version: 1, hash: expect.stringMatching(/^sha256:/) });
  expect(await (await fetch(`${sc.adminURL}/config`)).json()).toEqual(body);
  expect((await fetch(`${sc.adminURL}/readyz`)).status).toBe(200);
  expect(((await (await fetch(`${sc.dataURL}/v1/models`)).json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['first']);
  expect(await (await fetch(`${sc.adminURL}/metrics`)).text()).toContain(`airoute_config_info{hash="${body.hash}",version="1",airoute="team-a/chat"} 1`);
});

test('no token, a wrong token, a stale version and an invalid document are each refused precisely, and change nothing', async () => {
  expect((await put({ version: 9, config: config('x') })).status).toBe(401);
  expect((await put({ version: 9, config: config('x') }, 'wrong')).status).toBe(401);
  const stale = await put({ version: 1, config: config('x') }, 'first-token');
  expect(stale.status).toBe(409);
  expect(await stale.json()).toMatchObject({ version: 1, error: { code: 'stale_version' } });
  const bad = await put({ version: 2, config: { ...config('x'), routes: [{ model: 'x', backends: [{ backend: 'nope' }] }] } }, 'first-token');
  expect(bad.status).toBe(422);
  expect(((await bad.json()) as { issues: { path: string; message: string }[] }).issues).toContainEqual({ path: 'config.routes[0].backends[0].backend', message: 'unknown backend "nope"' });
  expect(((await (await fetch(`${sc.adminURL}/config`)).json()) as { version: number }).version).toBe(1);
});

test('a version that is not an integer up to 2^53-1 is refused with 422 naming it, and the running version stays', async () => {
  for (const version of ['1.7976931348623157e308', '9007199254740992', '2.5', '0']) {
    const r = await fetch(`${sc.adminURL}/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: 'Bearer first-token' },
      body: `{"version": ${version}, "config": ${JSON.stringify(config('huge'))}}`,
    });
    expect(r.status, version).toBe(422);
    expect(((await r.json()) as { issues: { path: string }[] }).issues.map((i) => i.path), version).toContain('version');
  }
  expect(((await (await fetch(`${sc.adminURL}/config`)).json()) as { version: number }).version).toBe(1);
});

test('a rotated token file is picked up without a restart; the old token stops working', async () => {
  await writeFile(tokenFile, 'second-token\n');
  // mtime granularity: make sure the change is visible as one
  await new Promise((r) => setTimeout(r, 20));
  expect((await put({ version: 2, config: config('second') }, 'first-token')).status).toBe(401);
  expect((await put({ version: 2, config: config('second') }, 'second-token')).status).toBe(200);
  expect(((await (await fetch(`${sc.dataURL}/v1/models`)).json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual(['second']);
});

test('without a token file, pushes are disabled (403)', async () => {
  const plain = await testSidecar(undefined, { waitForPush: true });
  try {
    const r = await fetch(`${plain.adminURL}/config`, { method: 'PUT', headers: { authorization: 'Bearer x' }, body: JSON.stringify({ version: 1, config: config('y') }) });
    expect(r.status).toBe(403);
  } finally {
    await plain.close();
  }
});
