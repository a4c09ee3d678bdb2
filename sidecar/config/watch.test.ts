// The snapshot watcher on real files laid out as the kubelet lays out ConfigMap and Secret volumes
// (the visible file is a symlink into a ..data directory that is swapped atomically).
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { withSecretRefs } from '../../api/v1alpha1/snapshot.ts';
import { configHash } from '../../api/v1alpha1/validate.ts';
import type { SidecarConfig } from '../../api/v1alpha1/config.ts';
import { Sidecar } from '../sidecar.ts';
import { compileConfig, envSecrets } from './runtime.ts';
import { SnapshotWatcher } from './watch.ts';

let dir: string;
let generation = 0;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airoute-snapshot-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a volume the way the kubelet does: files in a fresh ..<ts> dir, ..data swapped to it. */
async function volume(name: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  const data = join(root, `..${++generation}`);
  await mkdir(data, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    await mkdir(join(data, f, '..'), { recursive: true });
    await writeFile(join(data, f), text);
  }
  const tmp = join(root, '..data_tmp');
  await symlink(data, tmp);
  await rename(tmp, join(root, '..data'));
  for (const f of Object.keys(files)) {
    const top = f.split('/')[0]!;
    await symlink(join('..data', top), join(root, top)).catch(() => undefined);
  }
  return root;
}

const config = (model: string, key = 'sk-test-one'): SidecarConfig => ({
  backends: [{ name: 'p', type: 'openai', apiKey: { value: key } }],
  routes: [{ model, backends: [{ backend: 'p' }] }],
});
const snap = (version: number, model: string) =>
  JSON.stringify({ version, source: { namespace: 'team-a', name: 'chat' }, config: withSecretRefs(config(model), new Map([['backends[0].apiKey', { name: 'llm-keys', key: 'openai' }]])) });

function watcher(sc: Sidecar, file: string, secretsDir: string) {
  return new SnapshotWatcher(sc, { file, secretsDir, logger: pino({ level: 'silent' }) });
}

test('starts from the snapshot with the mounted key: the same hash the operator computed for its push', async () => {
  const cfg = await volume('config', { 'chat.json': snap(3, 'chat') });
  const secrets = await volume('secrets', { 'llm-keys/openai': 'sk-test-one\n' });
  const sc = new Sidecar(pino({ level: 'silent' }));
  expect(await watcher(sc, join(cfg, 'chat.json'), secrets).check()).toBe('applied');
  expect(sc.config).toMatchObject({ version: 3, hash: configHash(config('chat')), origin: 'team-a/chat' });
  expect(sc.config!.backends.get('p')!.apiKey).toBe('sk-test-one');
});

test('a newer snapshot is applied when the kubelet swaps the volume; an older or equal one (a push got there first) is not', async () => {
  const cfg = await volume('config', { 'chat.json': snap(3, 'chat') });
  const secrets = await volume('secrets', { 'llm-keys/openai': 'sk-test-one' });
  const sc = new Sidecar(pino({ level: 'silent' }));
  const w = watcher(sc, join(cfg, 'chat.json'), secrets);
  await w.check();
  expect(await w.check()).toBe('unchanged');
  // A push of version 5 arrived first.
  const pushed = compileConfig(config('pushed'), 5, envSecrets());
  if (!pushed.ok) throw new Error('bad test config');
  sc.swap(pushed.config);
  await volume('config', { 'chat.json': snap(4, 'late') });
  expect(await w.check()).toBe('stale');
  expect(sc.config!.version).toBe(5);
  await volume('config', { 'chat.json': snap(6, 'newer') });
  expect(await w.check()).toBe('applied');
  expect([...sc.config!.routes.keys()]).toEqual(['newer']);
});

test('no snapshot yet, a Secret not mounted, or a broken file → nothing applied, the sidecar waits for a push', async () => {
  const sc = new Sidecar(pino({ level: 'silent' }));
  const empty = await volume('config', {});
  expect(await watcher(sc, join(empty, 'chat.json'), dir).check()).toBe('missing');
  const cfg = await volume('config2', { 'chat.json': snap(1, 'chat') });
  expect(await watcher(sc, join(cfg, 'chat.json'), join(dir, 'no-secrets')).check()).toBe('invalid');
  const broken = await volume('config3', { 'chat.json': '{"version": 1, "config": ' });
  expect(await watcher(sc, join(broken, 'chat.json'), dir).check()).toBe('invalid');
  expect(sc.config).toBeUndefined();
});
