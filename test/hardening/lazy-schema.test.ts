// The schema library stays out of a sidecar whose documents are valid: typebox is ~700 modules and
// ~13 MiB of resident memory a sidecar would hold for as long as it runs, in every app pod, to
// check a document it checks a few times a day (api/v1alpha1/validate.ts). A refused document
// still gets typebox's field-by-field reasons, exactly as before. Run as the image runs it: the
// compiled CLI, whose validator finds its error walk as a sibling .js file.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { IMAGE_NODE_FLAGS, compiledCli, spawnSidecar } from './process.ts';

const RECORDER = fileURLToPath(new URL('./record-loads.ts', import.meta.url));
let cli: Awaited<ReturnType<typeof compiledCli>>;
let dir = '';

beforeAll(async () => {
  cli = await compiledCli();
  dir = await mkdtemp(join(tmpdir(), 'airoute-lazy-schema-'));
}, 120_000);

afterAll(async () => {
  await cli?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const config = (apiKey: object, extra: Record<string, unknown> = {}) => ({
  backends: [{ name: 'primary', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1', apiKey, ...extra }],
  routes: [{ model: 'chat', backends: [{ backend: 'primary', model: 'm' }] }],
});

const typeboxModules = async (log: string) => (await readFile(log, 'utf8')).split('\n').filter((u) => u.includes('/node_modules/typebox/'));

test('valid file, then a valid push → no typebox module is ever loaded; an invalid push → 422 naming the field, and only then typebox loads', async () => {
  const log = join(dir, 'modules.log');
  const sc = await spawnSidecar(config({ env: 'LAZY_SCHEMA_KEY' }), {
    entry: cli.entry,
    nodeFlags: [...IMAGE_NODE_FLAGS, '--import', RECORDER],
    env: { AIROUTE_TEST_MODULE_LOG: log, LAZY_SCHEMA_KEY: 'sk-test' },
  });
  try {
    const put = (body: unknown) =>
      fetch(`${sc.adminURL}/config`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${sc.adminToken}` }, body: JSON.stringify(body) });
    expect((await put({ version: 2, config: config({ value: 'sk-pushed' }) })).status).toBe(200);
    const loaded = await readFile(log, 'utf8');
    // the recorder saw the validator run, so an empty list below is not a recorder that saw nothing
    expect(loaded).toContain('/api/v1alpha1/generated/check-config.js');
    expect(loaded).toContain('/node_modules/undici/');
    expect(await typeboxModules(log)).toEqual([]);

    const bad = await put({ version: 3, config: config({ value: 'sk-pushed' }, { colour: 'blue' }) });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { issues: unknown[] }).issues).toEqual([{ path: 'config.backends[0].colour', message: 'unknown field' }]);
    expect((await typeboxModules(log)).length).toBeGreaterThan(100);
    expect(((await (await fetch(`${sc.adminURL}/config`)).json()) as { version: number }).version).toBe(2);
  } finally {
    await sc.stop();
  }
}, 60_000);

test('a file with an unknown field, a negative weight and an unknown resume strategy → exit 2 and one line per field, as typebox words them', async () => {
  const file = join(dir, 'bad.json');
  const doc = config({ env: 'LAZY_SCHEMA_KEY' }, { colour: 'blue' });
  Object.assign(doc.routes[0]!, { resume: 'sometimes' });
  Object.assign(doc.routes[0]!.backends[0]!, { weight: -1 });
  await writeFile(file, JSON.stringify(doc));
  const err = (await promisify(execFile)('node_modules/.bin/node', [cli.entry, 'sidecar', '--config', file, '--port', '0', '--admin-port', '0'], {
    env: { ...process.env, LAZY_SCHEMA_KEY: 'sk-test' },
  }).catch((e: unknown) => e)) as { code: number; stderr: string };
  expect(err.code).toBe(2);
  expect(err.stderr.trim().split('\n')).toEqual([
    `invalid config ${file}:`,
    '  backends[0].colour: unknown field',
    '  routes[0].backends[0].weight: must be >= 0',
    '  routes[0].resume: must be one of "none", "prefill", "verify"',
  ]);
}, 30_000);
