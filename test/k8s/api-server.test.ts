// The stand-in API server speaks the protocol the real client (@kubernetes/client-node) expects,
// and the operator's informer survives what a real API server does to watches.
import { CoreV1Api, CustomObjectsApi, Watch, type V1Secret } from '@kubernetes/client-node';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Informer } from '../../operator/kube/informer.ts';
import { airoute, demoSpec, eventually } from '../operator/harness.ts';
import { StandInApiServer } from './api-server.ts';
import type { JsonObject } from './schema.ts';

let api: StandInApiServer;
beforeEach(async () => {
  api = await StandInApiServer.start({ bookmarkIntervalMs: 100 });
});
afterEach(async () => {
  await api.close();
});

const secretBody = (name: string, v = 'x'): V1Secret => ({ metadata: { name, namespace: 'ns' }, stringData: { k: v } });

/** Collects raw watch events until `count` arrived or the stream ended. */
function watchEvents(path: string, query: Record<string, string | boolean>, count: number): Promise<{ type: string; object: JsonObject }[]> {
  const seen: { type: string; object: JsonObject }[] = [];
  return new Promise((resolve, reject) => {
    let controller: AbortController | undefined;
    new Watch(api.kubeConfig())
      .watch(
        path,
        query,
        (type, object) => {
          seen.push({ type, object: object as JsonObject });
          if (seen.length === count) {
            controller?.abort();
            resolve(seen);
          }
        },
        () => resolve(seen),
      )
      .then((c) => (controller = c), reject);
  });
}

describe('protocol', () => {
  test('list returns a list resourceVersion; watch from it replays only later changes; selectors apply', async () => {
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: 'ns', body: secretBody('before') });
    const list = await core.listNamespacedSecret({ namespace: 'ns' });
    const rv = list.metadata!.resourceVersion!;
    await core.createNamespacedSecret({ namespace: 'ns', body: { ...secretBody('after'), metadata: { name: 'after', namespace: 'ns', labels: { pick: 'me' } } } });
    await core.createNamespacedSecret({ namespace: 'ns', body: secretBody('ignored') });
    const evs = await watchEvents('/api/v1/namespaces/ns/secrets', { resourceVersion: rv, labelSelector: 'pick=me' }, 1);
    expect(evs.map((e) => [e.type, (e.object.metadata as JsonObject).name])).toEqual([['ADDED', 'after']]);
    expect(evs[0]!.object.data).toEqual({ k: Buffer.from('x').toString('base64') }); // stringData folded into data
  });

  test('watch with allowWatchBookmarks gets BOOKMARK events carrying the current resourceVersion', async () => {
    const evs = await watchEvents('/api/v1/namespaces/ns/secrets', { resourceVersion: String(api.store.currentRv()), allowWatchBookmarks: true }, 1);
    expect(evs[0]).toEqual({ type: 'BOOKMARK', object: { kind: 'Secret', apiVersion: 'v1', metadata: { resourceVersion: String(api.store.currentRv()) } } });
  });

  test('watch from a compacted resourceVersion → in-stream ERROR 410 Expired, then the stream ends', async () => {
    const old = String(api.store.currentRv());
    api.create('secrets', secretBody('a') as unknown as JsonObject);
    api.store.compact();
    const evs = await watchEvents('/api/v1/namespaces/ns/secrets', { resourceVersion: old }, 2);
    expect(evs).toHaveLength(1);
    expect(evs[0]!.type).toBe('ERROR');
    expect(evs[0]!.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired', message: expect.stringContaining('too old resource version') });
  });

  test('optimistic concurrency: replace with a stale resourceVersion → 409 Conflict', async () => {
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    const created = (await custom.createNamespacedCustomObject({ group: 'airoute.dev', version: 'v1alpha1', namespace: 'ns', plural: 'airoutes', body: airoute('ns', 'r', demoSpec()) })) as JsonObject;
    await custom.replaceNamespacedCustomObject({ group: 'airoute.dev', version: 'v1alpha1', namespace: 'ns', plural: 'airoutes', name: 'r', body: { ...created, spec: demoSpec('other') } });
    const err = await custom.replaceNamespacedCustomObject({ group: 'airoute.dev', version: 'v1alpha1', namespace: 'ns', plural: 'airoutes', name: 'r', body: { ...created, spec: demoSpec('third') } }).catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(409);
    expect(JSON.parse((err as { body: string }).body)).toMatchObject({ reason: 'Conflict', message: expect.stringContaining('the object has been modified') });
  });

  test('status subresource: the main resource ignores status; /status ignores spec; generation tracks spec only', async () => {
    const custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
    const gvr = { group: 'airoute.dev', version: 'v1alpha1', namespace: 'ns', plural: 'airoutes', name: 'r' };
    const created = (await custom.createNamespacedCustomObject({ ...gvr, body: { ...airoute('ns', 'r', demoSpec()), status: { configVersion: 99 } } })) as JsonObject;
    expect(created.status).toBeUndefined();
    const withStatus = (await custom.replaceNamespacedCustomObjectStatus({ ...gvr, body: { ...created, spec: demoSpec('ignored'), status: { configVersion: 3 } } })) as JsonObject;
    expect(withStatus.status).toEqual({ configVersion: 3 });
    expect(((withStatus.spec as JsonObject).routes as JsonObject[])[0]!.model).toBe('chat');
    expect((withStatus.metadata as JsonObject).generation).toBe(1);
    const labelled = (await custom.replaceNamespacedCustomObject({ ...gvr, body: { ...withStatus, metadata: { ...(withStatus.metadata as JsonObject), labels: { a: 'b' } }, status: { configVersion: 7 } } })) as JsonObject;
    expect((labelled.metadata as JsonObject).generation).toBe(1); // metadata only
    expect(labelled.status).toEqual({ configVersion: 3 });
    const respecced = (await custom.replaceNamespacedCustomObject({ ...gvr, body: { ...labelled, spec: demoSpec('new') } })) as JsonObject;
    expect((respecced.metadata as JsonObject).generation).toBe(2);
  });

  test('paged lists: limit/continue in key order, every page at the first page’s resourceVersion; a compacted continue token → 410', async () => {
    for (let i = 0; i < 7; i++) api.create('secrets', secretBody(`s${i}`) as unknown as JsonObject);
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const first = await core.listNamespacedSecret({ namespace: 'ns', limit: 3 });
    expect(first.items.map((s) => s.metadata!.name)).toEqual(['s0', 's1', 's2']);
    expect(first.metadata!.remainingItemCount).toBe(4);
    api.create('secrets', secretBody('s9') as unknown as JsonObject); // a write between pages
    const second = await core.listNamespacedSecret({ namespace: 'ns', limit: 3, _continue: first.metadata!._continue! });
    expect(second.items.map((s) => s.metadata!.name)).toEqual(['s3', 's4', 's5']);
    expect(second.metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
    const third = await core.listNamespacedSecret({ namespace: 'ns', limit: 3, _continue: second.metadata!._continue! });
    expect(third.items.map((s) => s.metadata!.name)).toEqual(['s6', 's9']);
    expect(third.metadata!._continue).toBeUndefined();
    expect(api.audit.filter((a) => a.verb === 'list').map((a) => a.limit)).toEqual([3, 3, 3]);
    api.store.compact();
    const err = await core.listNamespacedSecret({ namespace: 'ns', limit: 3, _continue: first.metadata!._continue! }).catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(410);
  });

  test('wrong bearer token → 401', async () => {
    const err = await api.kubeConfig('wrong').makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'ns' }).catch((e: unknown) => e);
    expect((err as { code: number }).code).toBe(401);
  });
});

describe('the operator informer', () => {
  const logger = pino({ level: 'silent' });
  const informer = () => {
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    return new Informer<V1Secret>({ kubeConfig: api.kubeConfig(), name: 'secrets', logger, backoff: { baseMs: 20, maxMs: 200 }, path: '/api/v1/secrets', list: () => core.listSecretForAllNamespaces() });
  };
  const names = (i: Informer<V1Secret>) => i.list('ns').map((s) => s.metadata!.name).sort();

  test('after 410 Gone it re-lists: objects created and deleted meanwhile are right in the cache', async () => {
    api.create('secrets', secretBody('stays') as unknown as JsonObject);
    api.create('secrets', secretBody('goes') as unknown as JsonObject);
    const inf = informer();
    const seen: string[] = [];
    inf.onChange((s) => seen.push(s.metadata!.name!));
    await inf.start();
    expect(names(inf)).toEqual(['goes', 'stays']);
    // History is compacted and the watch is cut: the informer's resume gets 410 and must re-list.
    api.store.compact();
    api.dropWatches();
    api.delete('secrets', 'ns', 'goes');
    api.create('secrets', secretBody('new') as unknown as JsonObject);
    api.store.compact();
    await eventually(() => names(inf), (n) => n.join() === 'new,stays', 5000, 'the re-listed cache');
    expect(seen).toContain('goes'); // the delete was delivered to the callback too
    await inf.stop();
  });

  test('watch and list failures (500) → restarted with backoff until the server recovers', async () => {
    const inf = informer();
    await inf.start();
    let failures = 0;
    const heal = api.injectFault((r) => (r.resource === 'secrets' && (r.verb === 'watch' || r.verb === 'list') ? (++failures, 500) : undefined));
    api.dropWatches();
    await eventually(() => failures, (n) => n >= 3, 5000, 'failed reconnects');
    heal();
    api.create('secrets', secretBody('after-outage') as unknown as JsonObject);
    await eventually(() => names(inf), (n) => n.includes('after-outage'), 5000, 'the cache after the outage');
    expect(failures).toBeLessThan(30); // backed off, not a tight loop
    await inf.stop();
  });
});
