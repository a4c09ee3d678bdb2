// Table tests of the pure reconcile decision: (AIRoute, observed) → plan. No cluster, no clock.
import { describe, expect, test } from 'vitest';
import type { AIRoute, AIRouteSpec, AIRouteStatus } from '../../api/v1alpha1/airoute.ts';
import { configHash } from '../../api/v1alpha1/validate.ts';
import { compileRoute } from './compile.ts';
import { eventsBetween, plan, type Observed, type PodView, type SidecarObservation } from './plan.ts';

const KEY = 'sk-test-0123456789abcdef';

const spec = (over: Partial<AIRouteSpec> = {}): AIRouteSpec => ({
  podSelector: { matchLabels: { app: 'chat' } },
  backends: [{ name: 'primary', type: 'openai-compatible', baseURL: 'http://127.0.0.1:9000/v1', apiKey: { secretKeyRef: { name: 'keys', key: 'primary' } } }],
  routes: [{ model: 'chat', backends: [{ backend: 'primary' }] }],
  ...over,
});

const route = (s: AIRouteSpec = spec(), status?: AIRouteStatus, meta: Partial<AIRoute['metadata']> = {}): AIRoute => ({
  apiVersion: 'airoute.dev/v1alpha1',
  kind: 'AIRoute',
  metadata: { name: 'r', namespace: 'ns', generation: 3, creationTimestamp: '2025-01-01T00:00:00Z', ...meta },
  spec: s,
  ...(status ? { status } : {}),
});

const pod = (name: string, sidecar: SidecarObservation = {}, over: Partial<PodView> = {}): PodView => ({
  name,
  labels: { app: 'chat' },
  injected: true,
  address: `https://10.0.0.${name.length}:4001`,
  phase: 'Running',
  sidecar,
  ...over,
});

const secrets = new Map([['keys', { primary: KEY }]]);
const observed = (pods: PodView[], over: Partial<Observed> = {}): Observed => ({ secrets, pods, otherRoutes: [], ...over });
const hashOf = (s: AIRouteSpec) => compileRoute(s, secrets).hash!;
const H = hashOf(spec());
const cond = (p: ReturnType<typeof plan>, type: string) => p.status.conditions.find((c) => c.type === type)!;

describe('plan(): versions', () => {
  test.each([
    {
      name: 'first reconcile mints version 1 and persists it before pushing',
      status: undefined,
      pods: [pod('a'), pod('b')],
      want: { version: 1, persist: true, push: ['a', 'b'], synced: 0 },
    },
    {
      name: 'same content keeps its version; converged pods are not pushed',
      status: { configVersion: 4, configHash: H },
      pods: [pod('a', { running: { version: 4, hash: H } }), pod('b', { running: { version: 4, hash: H } })],
      want: { version: 4, persist: false, push: [], synced: 2 },
    },
    {
      name: 'new content gets the next version',
      status: { configVersion: 4, configHash: 'sha256:old' },
      pods: [pod('a', { running: { version: 4, hash: 'sha256:old' } })],
      want: { version: 5, persist: true, push: ['a'], synced: 0 },
    },
    {
      name: 'a sidecar already running a higher version with other content pushes the version above it',
      status: { configVersion: 2, configHash: H },
      pods: [pod('a', { running: { version: 9, hash: 'sha256:foreign' } }), pod('b', { running: { version: 2, hash: H } })],
      want: { version: 10, persist: true, push: ['a', 'b'], synced: 0 },
    },
    {
      name: 'status lost (AIRoute recreated) but sidecars run this content at version 7: adopt 7, push nothing',
      status: undefined,
      pods: [pod('a', { running: { version: 7, hash: H } })],
      want: { version: 7, persist: true, push: [], synced: 1 },
    },
    {
      name: 'a restarted sidecar (version 0) gets the current version again',
      status: { configVersion: 3, configHash: H },
      pods: [pod('a', { running: { version: 0, hash: null } }), pod('b', { running: { version: 3, hash: H } })],
      want: { version: 3, persist: false, push: ['a'], synced: 1 },
    },
  ])('$name', ({ status, pods, want }) => {
    const p = plan(route(spec(), status), observed(pods));
    expect(p.desired?.version).toBe(want.version);
    expect(p.persistVersion).toBe(want.persist);
    expect(p.push).toEqual(want.push);
    expect(p.status.syncedPods).toBe(want.synced);
    expect(p.status.targetPods).toBe(pods.length);
  });
});

describe('plan(): conditions and events', () => {
  test('converged: every condition True, Ready says how many pods run which version', () => {
    const p = plan(route(spec(), { configVersion: 2, configHash: H }), observed([pod('a', { running: { version: 2, hash: H } })]));
    expect(Object.fromEntries(p.status.conditions.map((c) => [c.type, c.status]))).toEqual({ Accepted: 'True', ResolvedRefs: 'True', Synced: 'True', Progressing: 'False', Conflict: 'False', Ready: 'True' });
    expect(cond(p, 'Progressing')).toMatchObject({ reason: 'Complete', message: '1/1 pods run config version 2' });
    expect(cond(p, 'Ready').message).toBe('1/1 pods run config version 2');
    expect(p.status.observedGeneration).toBe(3);
    expect(p.events).toEqual([{ type: 'Normal', reason: 'Ready', message: '1/1 pods run config version 2' }]);
  });

  test('missing Secret → ResolvedRefs=False naming the ref; nothing pushed; last good version kept; Warning event', () => {
    const p = plan(route(spec(), { configVersion: 2, configHash: H }), observed([pod('a', { running: { version: 2, hash: H } })], { secrets: new Map() }));
    expect(cond(p, 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'SecretNotResolved', message: 'spec.backends[0].apiKey.secretKeyRef: Secret "keys" not found' });
    expect(p.desired).toBeUndefined();
    expect(p.push).toEqual([]);
    expect(p.status.configVersion).toBe(2);
    expect(p.status.syncedPods).toBe(1);
    expect(cond(p, 'Ready').status).toBe('False');
    expect(p.events).toContainEqual({ type: 'Warning', reason: 'SecretNotResolved', message: 'spec.backends[0].apiKey.secretKeyRef: Secret "keys" not found' });
  });

  test('missing key in an existing Secret is named too', () => {
    const p = plan(route(), observed([], { secrets: new Map([['keys', { other: 'x' }]]) }));
    expect(cond(p, 'ResolvedRefs').message).toBe('spec.backends[0].apiKey.secretKeyRef: Secret "keys" has no key "primary"');
  });

  test('spec the sidecar validator refuses → Accepted=False with the path under spec', () => {
    const bad = spec({ routes: [{ model: 'chat', backends: [{ backend: 'nope' }] }] });
    const p = plan(route(bad), observed([pod('a')]));
    expect(cond(p, 'Accepted')).toMatchObject({ status: 'False', reason: 'Invalid' });
    expect(cond(p, 'Accepted').message).toContain('spec.routes[0].backends[0].backend: unknown backend "nope"');
    expect(p.push).toEqual([]);
  });

  test('a sidecar rejected this version → no second push to it; Synced=False Rejected with its reason; Warning event once', () => {
    const obs = observed([pod('a', { running: { version: 0, hash: null }, rejected: { version: 1, message: 'config.routes[0]: nope' } })]);
    const first = plan(route(spec(), { configVersion: 1, configHash: H }), obs);
    expect(first.push).toEqual([]);
    expect(cond(first, 'Synced')).toMatchObject({ status: 'False', reason: 'Rejected', message: 'sidecar of pod a rejected config version 1: config.routes[0]: nope' });
    expect(first.events.filter((e) => e.reason === 'Rejected')).toHaveLength(1);
    // Same rejection observed again: status already says so, no new Event.
    const again = plan(route(spec(), { configVersion: 1, configHash: H, conditions: first.status.conditions.map((c) => ({ ...c, lastTransitionTime: 't' })) }), obs);
    expect(again.events).toEqual([]);
  });


  test('selected pod without a sidecar counts as a target that cannot sync', () => {
    const p = plan(route(spec(), { configVersion: 1, configHash: H }), observed([pod('a', {}, { injected: false })]));
    expect(p.push).toEqual([]);
    expect(cond(p, 'Synced').reason).toBe('NoSidecar');
  });


  test('no selected pods: Synced and Ready with 0/0', () => {
    const p = plan(route(), observed([pod('a', {}, { labels: { app: 'other' } })]));
    expect(p.status.targetPods).toBe(0);
    expect(cond(p, 'Synced')).toMatchObject({ status: 'True', reason: 'NoTargetPods' });
    expect(cond(p, 'Ready').status).toBe('True');
  });

  test('API keys never appear in status or events, even when a sidecar echoes one', () => {
    const p = plan(route(spec(), { configVersion: 1, configHash: H }), observed([pod('a', { rejected: { version: 1, message: `bad key ${KEY}` } })]));
    const text = JSON.stringify({ s: p.status, e: p.events });
    expect(text).not.toContain(KEY);
    expect(text).toContain('[redacted]');
  });
});

describe('plan(): truthful status through a rollout (Ready answers for Running, reachable pods; Progressing shows the rest)', () => {
  const v = { running: { version: 1, hash: H } };
  const at1 = { configVersion: 1, configHash: H };
  test.each([
    {
      name: 'a new pod still starting (no IP) → Ready stays True; Progressing names it; 2/3',
      pods: [pod('a', v), pod('b', v), pod('c', {}, { address: undefined, phase: 'Pending' })],
      want: { ready: 'True', synced: ['True', 'Synced'], progressing: ['True', 'RollingOut', '2/3 pods run config version 1; starting: c'], ratio: [2, 3], push: [] },
    },
    {
      name: 'a new pod with an IP whose app has not started yet (phase Pending, its sidecar waiting for a config) → pushed, not counted',
      pods: [pod('a', v), pod('c', { running: { version: 0, hash: null } }, { phase: 'Pending' })],
      want: { ready: 'True', synced: ['True', 'Synced'], progressing: ['True', 'RollingOut', '1/2 pods run config version 1; starting: c'], ratio: [1, 2], push: ['c'] },
    },
    {
      name: 'a running pod that cannot be reached right now → not counted; Progressing says unreachable; still pushed (with backoff)',
      pods: [pod('a', { unreachable: 'ECONNREFUSED' }), pod('b', v)],
      want: { ready: 'True', synced: ['True', 'Synced'], progressing: ['True', 'RollingOut', '1/2 pods run config version 1; unreachable: a'], ratio: [1, 2], push: ['a'] },
    },
    {
      name: 'no running pod can be reached at all → Synced=False Unreachable, not Ready',
      pods: [pod('a', { unreachable: 'sidecar identity not proven' })],
      want: { ready: 'False', synced: ['False', 'Unreachable'], progressing: ['True', 'RollingOut', '0/1 pods run config version 1; unreachable: a'], ratio: [0, 1], push: ['a'] },
    },
    {
      name: 'a new version on its way to running pods → Synced=False Pending, Ready False until it runs there',
      pods: [pod('a', { running: { version: 1, hash: 'sha256:old' } })],
      status: { configVersion: 1, configHash: 'sha256:old' },
      want: { ready: 'False', synced: ['False', 'Pending'], progressing: ['True', 'RollingOut', '0/1 pods run config version 2; being pushed: a'], ratio: [0, 1], push: ['a'] },
    },
    {
      name: 'every pod still starting (a new Deployment) → nothing to answer for yet: Ready, Progressing',
      pods: [pod('a', {}, { address: undefined, phase: 'Pending' }), pod('b', {}, { address: undefined, phase: 'Pending' })],
      want: { ready: 'True', synced: ['True', 'Synced'], progressing: ['True', 'RollingOut', '0/2 pods run config version 1; starting: a, b'], ratio: [0, 2], push: [] },
    },
  ])('$name', ({ pods, status, want }) => {
    const p = plan(route(spec(), status ?? at1), observed(pods));
    expect(cond(p, 'Ready').status).toBe(want.ready);
    expect([cond(p, 'Synced').status, cond(p, 'Synced').reason]).toEqual(want.synced);
    expect([cond(p, 'Progressing').status, cond(p, 'Progressing').reason, cond(p, 'Progressing').message]).toEqual(want.progressing);
    expect([p.status.syncedPods, p.status.targetPods]).toEqual(want.ratio);
    expect(p.push).toEqual(want.push);
  });

  test('a pod arriving with the current version from its snapshot: counted and synced as soon as it is observed; nothing pushed', () => {
    const p = plan(route(spec(), at1), observed([pod('a', v), pod('new', v)]));
    expect([cond(p, 'Ready').status, cond(p, 'Progressing').reason, p.status.syncedPods, p.status.targetPods, p.push]).toEqual(['True', 'Complete', 2, 2, []]);
  });

  test('a rejection stops the rollout: Progressing=False Rejected', () => {
    const p = plan(route(spec(), at1), observed([pod('a', { running: { version: 0, hash: null }, rejected: { version: 1, message: 'no' } })]));
    expect([cond(p, 'Progressing').status, cond(p, 'Progressing').reason]).toEqual(['False', 'Rejected']);
  });
});

describe('plan(): two AIRoutes selecting the same pod', () => {
  const older = { name: 'older', createdAt: '2024-06-01T00:00:00Z', podSelector: { matchLabels: { app: 'chat' } } };
  const younger = { name: 'younger', createdAt: '2026-01-01T00:00:00Z', podSelector: { matchLabels: { app: 'chat' } } };

  test('the younger AIRoute leaves the pod to the older one: not a target, Conflict=True naming it, not Ready, Warning event', () => {
    const p = plan(route(), observed([pod('a'), pod('b', {}, { labels: { app: 'chat', only: 'me' } })], { otherRoutes: [{ ...older, podSelector: { matchLabels: { app: 'chat' }, matchExpressions: [{ key: 'only', operator: 'DoesNotExist' }] } }] }));
    expect(p.push).toEqual(['b']);
    expect(p.status.targetPods).toBe(1);
    expect(cond(p, 'Conflict')).toMatchObject({ status: 'True', reason: 'PodsOwnedByOtherRoute', message: 'pods a are also selected by AIRoute older, which is older and keeps them' });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'PodsOwnedByOtherRoute' });
    expect(p.events.map((e) => e.reason)).toContain('PodsOwnedByOtherRoute');
  });

  test('the older AIRoute keeps the pod, says so, and stays Ready', () => {
    const p = plan(route(spec(), { configVersion: 1, configHash: H }), observed([pod('a', { running: { version: 1, hash: H } })], { otherRoutes: [younger] }));
    expect(p.status.targetPods).toBe(1);
    expect(cond(p, 'Conflict')).toMatchObject({ status: 'True', reason: 'PodsSharedWithOtherRoute', message: 'pods a are also selected by AIRoute younger; this AIRoute is older and keeps them' });
    expect(cond(p, 'Ready').status).toBe('True');
  });

  test('same creation time: the name decides, so both sides agree', () => {
    const twin = { name: 'a-twin', createdAt: '2025-01-01T00:00:00Z', podSelector: { matchLabels: { app: 'chat' } } };
    expect(plan(route(), observed([pod('x')], { otherRoutes: [twin] })).status.targetPods).toBe(0); // 'a-twin' < 'r'
  });
});

test('the document is the one the sidecar will hash: configHash of the compiled config', () => {
  const p = plan(route(), observed([]));
  expect(p.desired!.hash).toBe(configHash(p.desired!.config));
  expect(p.desired!.config.backends[0]!.apiKey).toEqual({ value: KEY });
});

describe('operator-wide defaults', () => {
  test('a route without a journal gets the operator default, with a key prefix of its namespace; its own journal (password from its namespace’s Secret) wins', async () => {
    const { compileRoute } = await import('./compile.ts');
    const { namespaced } = await import('./apply.ts');
    const spec = { podSelector: {}, backends: [{ name: 'd', type: 'demo' }], routes: [{ model: 'm', backends: [{ backend: 'd' }] }] } as never;
    const defaults = namespaced({ journal: { type: 'redis', url: 'redis://redis:6379/0', keyPrefix: 'airoute:' } }, 'team-a');
    const c = compileRoute(spec, new Map(), defaults);
    expect(c.config?.journal).toEqual({ type: 'redis', url: 'redis://redis:6379/0', keyPrefix: 'airoute:team-a:' });
    expect(c.secrets).toEqual([]); // no shared credential
    const ownSpec = { ...(spec as object), journal: { type: 'redis', url: 'redis://redis:6379/0', password: { secretKeyRef: { name: 'redis', key: 'pw' } } } } as never;
    const own = compileRoute(ownSpec, new Map([['redis', { pw: 'redis-pw-123' }]]), defaults);
    expect(own.config?.journal).toEqual({ type: 'redis', url: 'redis://redis:6379/0', password: { value: 'redis-pw-123' } });
    expect(own.secrets).toContain('redis-pw-123');
    expect(own.snapshot).toMatchObject({ journal: { password: { secretKeyRef: { name: 'redis', key: 'pw' } } } });
    expect(compileRoute(spec, new Map()).hash).not.toBe(c.hash);
  });
});

describe('plan(): which version, and who gets it', () => {
  test('a pod already at the version about to be minted, with other content, gets the version above it (a sidecar refuses a version it has with other content)', () => {
    const p = plan(route(spec(), { configVersion: 2, configHash: 'sha256:old' }), observed([pod('a', { running: { version: 3, hash: 'sha256:foreign' } })]));
    expect(p.desired?.version).toBe(4);
    expect(p.push).toEqual(['a']);
  });

  test('a pod already running this content at a higher version than status: that version is adopted and persisted, the pod is not pushed', () => {
    const p = plan(route(spec(), { configVersion: 2, configHash: H }), observed([pod('a', { running: { version: 5, hash: H } }), pod('b', { running: { version: 2, hash: H } })]));
    expect([p.desired?.version, p.persistVersion, p.push, p.status.configVersion]).toEqual([5, true, ['b'], 5]);
  });

  test('a pod at the version number with other content is not synced: it is pushed, and the version moves above it', () => {
    const p = plan(route(spec(), { configVersion: 3, configHash: H }), observed([pod('a', { running: { version: 3, hash: 'sha256:other' } })]));
    expect([p.desired?.version, p.status.syncedPods, p.push]).toEqual([4, 0, ['a']]);
  });

  test('the plan pushes to a pod whose acknowledged version is older, never to one already at the version', () => {
    const p = plan(route(spec(), { configVersion: 3, configHash: H }), observed([pod('old', { running: { version: 2, hash: 'sha256:prev' } }), pod('cur', { running: { version: 3, hash: H } }), pod('never', {})]));
    expect(p.push).toEqual(['old', 'never']);
    expect([p.status.syncedPods, p.status.targetPods]).toEqual([1, 3]);
  });

  test('a rejection of an older version does not hold back the new one', () => {
    const p = plan(route(spec(), { configVersion: 4, configHash: 'sha256:old' }), observed([pod('a', { running: { version: 4, hash: 'sha256:old' }, rejected: { version: 3, message: 'old news' } })]));
    expect(p.push).toEqual(['a']);
    expect(cond(p, 'Synced').reason).toBe('Pending');
  });

  test('a broken spec pushes nothing, even to pods behind the last good version, which status keeps', () => {
    const p = plan(route(spec(), { configVersion: 2, configHash: H }), observed([pod('a', { running: { version: 1, hash: 'sha256:older' } })], { secrets: new Map() }));
    expect(p.push).toEqual([]);
    expect(p.persistVersion).toBe(false);
    expect(p.status).toMatchObject({ configVersion: 2, configHash: H, syncedPods: 0, targetPods: 1 });
    expect(cond(p, 'Synced')).toMatchObject({ status: 'False', reason: 'Pending', message: '0/1 pods run config version 2; being pushed: a' });
  });

  test('a spec with no podSelector selects every pod of the namespace', () => {
    const { podSelector: _, ...rest } = spec();
    const p = plan(route(rest as AIRouteSpec), observed([pod('a'), pod('b', {}, { labels: { app: 'other' } })]));
    expect(p.push).toEqual(['a', 'b']);
  });

  test('metadata without a generation reports observedGeneration 0', () => {
    const r = route();
    delete r.metadata.generation;
    expect(plan(r, observed([])).status.observedGeneration).toBe(0);
  });
});

describe('plan(): what the conditions say', () => {
  const at1 = { configVersion: 1, configHash: H };
  const v1 = { running: { version: 1, hash: H } };

  test('never compiled and broken: no config anywhere, NoConfig on Synced and Progressing; status carries no hash', () => {
    const p = plan(route(), observed([pod('a')], { secrets: new Map() }));
    expect(cond(p, 'Synced')).toMatchObject({ status: 'False', reason: 'NoConfig', message: 'no valid config has been compiled yet' });
    expect(cond(p, 'Progressing')).toMatchObject({ status: 'False', reason: 'NoConfig', message: 'no valid config has been compiled yet' });
    expect(p.status.configVersion).toBe(0);
    expect('configHash' in p.status).toBe(false);
    expect(p.desired).toBeUndefined();
  });

  test('more than five pods are named five at a time, with how many more', () => {
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
    const p = plan(route(spec(), at1), observed(names.map((n) => pod(n, {}, { address: undefined, phase: 'Pending' }))));
    expect(cond(p, 'Progressing').message).toBe('0/7 pods run config version 1; starting: p1, p2, p3, p4, p5 and 2 more');
    const five = plan(route(spec(), at1), observed(names.slice(0, 5).map((n) => pod(n, {}, { address: undefined, phase: 'Pending' }))));
    expect(cond(five, 'Progressing').message).toBe('0/5 pods run config version 1; starting: p1, p2, p3, p4, p5');
  });

  test('more than ten spec issues are listed ten at a time, with how many more', () => {
    const routes = (n: number) => Array.from({ length: n }, (_, i) => ({ model: `m${i}`, backends: [{ backend: 'nope' }] }));
    const line = (i: number) => `spec.routes[${i}].backends[0].backend: unknown backend "nope"`;
    const twelve = cond(plan(route(spec({ routes: routes(12) })), observed([])), 'Accepted').message;
    expect(twelve).toBe(`spec is invalid: ${Array.from({ length: 10 }, (_, i) => line(i)).join('; ')}; and 2 more`);
    const ten = cond(plan(route(spec({ routes: routes(10) })), observed([])), 'Accepted').message;
    expect(ten).toBe(`spec is invalid: ${Array.from({ length: 10 }, (_, i) => line(i)).join('; ')}`);
  });

  test('several pods rejecting: the first is named, with how many more', () => {
    const no = { running: { version: 0, hash: null }, rejected: { version: 1, message: 'no' } };
    const p = plan(route(spec(), at1), observed([pod('a', no), pod('b', no), pod('c', no)]));
    expect(cond(p, 'Synced').message).toBe('sidecar of pod a rejected config version 1: no (and 2 more pods)');
    expect(cond(p, 'Progressing')).toMatchObject({ status: 'False', reason: 'Rejected', message: 'sidecar of pod a rejected config version 1: no (and 2 more pods)' });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'Rejected' });
  });

  test('a selected pod without a sidecar: Synced and Progressing name it; Ready is False for it', () => {
    const p = plan(route(spec(), at1), observed([pod('a', v1), pod('bare', {}, { injected: false })]));
    expect(cond(p, 'Synced')).toMatchObject({ status: 'False', reason: 'NoSidecar', message: '1/2 pods run config version 1; selected but without an airoute sidecar: bare' });
    expect(cond(p, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut', message: '1/2 pods run config version 1; selected but without an airoute sidecar: bare' });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'NoSidecar' });
  });

  test('no running pod reachable: Synced says which could not be reached', () => {
    const p = plan(route(spec(), at1), observed([pod('a', { unreachable: 'ECONNREFUSED' }), pod('b', {}, { address: undefined, phase: 'Pending' })]));
    expect(cond(p, 'Synced')).toMatchObject({ status: 'False', reason: 'Unreachable', message: '0/2 pods run config version 1; no running pod could be reached: a' });
  });

  test('the running, reachable pods synced while others start: Synced and Ready say so, with the ratio and who is missing', () => {
    const p = plan(route(spec(), at1), observed([pod('a', v1), pod('b', {}, { address: undefined, phase: 'Pending' }), pod('c', { unreachable: 'ECONNREFUSED' })]));
    const msg = 'every running, reachable pod runs config version 1 (1/3 pods run config version 1; starting: b; unreachable: c)';
    expect(cond(p, 'Synced')).toMatchObject({ status: 'True', reason: 'Synced', message: msg });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready', message: msg });
    expect(cond(p, 'Progressing').message).toBe('1/3 pods run config version 1; starting: b; unreachable: c');
  });

  test('a pod that runs the version but is not Running any more: every pod runs it, Ready still answers only for the running one', () => {
    const p = plan(route(spec(), at1), observed([pod('a', v1), pod('b', v1, { phase: 'Succeeded' })]));
    expect(cond(p, 'Synced')).toMatchObject({ status: 'True', message: 'every running, reachable pod runs config version 1 (2/2 pods run config version 1)' });
    expect(cond(p, 'Progressing')).toMatchObject({ status: 'False', reason: 'Complete', message: '2/2 pods run config version 1' });
  });

  test('a running pod not yet at the version while another is: Pending, naming the one being pushed', () => {
    const p = plan(route(spec(), at1), observed([pod('a', v1), pod('b', { running: { version: 0, hash: null } })]));
    expect(cond(p, 'Synced')).toMatchObject({ status: 'False', reason: 'Pending', message: '1/2 pods run config version 1; being pushed: b' });
  });

  test('no selected pods: Synced and Progressing say none is selected', () => {
    const p = plan(route(spec(), at1), observed([]));
    expect(cond(p, 'Synced').message).toBe('no pod with an airoute sidecar is selected');
    expect(cond(p, 'Progressing')).toMatchObject({ status: 'False', reason: 'Complete', message: 'no pod with an airoute sidecar is selected' });
    expect(cond(p, 'Ready').message).toBe('no pod with an airoute sidecar is selected');
  });

  test('Ready names the most fundamental cause: a broken spec before a lost pod before a push in flight', () => {
    const older = { name: 'older', createdAt: '2024-06-01T00:00:00Z', podSelector: { matchLabels: { app: 'chat', x: '1' } } };
    const pods = [pod('a', { running: { version: 0, hash: null } }), pod('b', {}, { labels: { app: 'chat', x: '1' } })];
    const bad = spec({ routes: [{ model: 'chat', backends: [{ backend: 'nope' }] }] });
    expect(cond(plan(route(bad, at1), observed(pods, { otherRoutes: [older] })), 'Ready').reason).toBe('Invalid');
    expect(cond(plan(route(spec(), at1), observed(pods, { otherRoutes: [older], secrets: new Map() })), 'Ready').reason).toBe('SecretNotResolved');
    expect(cond(plan(route(spec(), at1), observed(pods, { otherRoutes: [older] })), 'Ready').reason).toBe('PodsOwnedByOtherRoute');
    expect(cond(plan(route(spec(), at1), observed(pods)), 'Ready')).toMatchObject({ status: 'False', reason: 'Pending', message: '0/2 pods run config version 1; being pushed: a, b' });
  });

  test('conflicts name every other AIRoute and its pods', () => {
    const older1 = { name: 'o1', createdAt: '2024-01-01T00:00:00Z', podSelector: { matchLabels: { grp: '1' } } };
    const older2 = { name: 'o2', createdAt: '2024-02-01T00:00:00Z', podSelector: { matchLabels: { grp: '2' } } };
    const pods = [pod('a', {}, { labels: { app: 'chat', grp: '1' } }), pod('b', {}, { labels: { app: 'chat', grp: '2' } }), pod('c', {}, { labels: { app: 'chat', grp: '1' } })];
    const lost = plan(route(), observed(pods, { otherRoutes: [older1, older2] }));
    expect(cond(lost, 'Conflict').message).toBe('pods a, c are also selected by AIRoute o1, which is older and keeps them; pods b are also selected by AIRoute o2, which is older and keeps them');
    expect(lost.status.targetPods).toBe(0);
    const young1 = { ...older1, name: 'y1', createdAt: '2026-01-01T00:00:00Z' };
    const young2 = { ...older2, name: 'y2', createdAt: '2026-01-01T00:00:00Z' };
    const kept = plan(route(), observed(pods, { otherRoutes: [young1, young2] }));
    expect(cond(kept, 'Conflict').message).toBe('pods a, c are also selected by AIRoute y1; this AIRoute is older and keeps them; pods b are also selected by AIRoute y2; this AIRoute is older and keeps them');
    expect(kept.status.targetPods).toBe(3);
  });

  test('a pod selected by an older and a younger AIRoute goes to the oldest of all', () => {
    const older = { name: 'older', createdAt: '2024-01-01T00:00:00Z', podSelector: { matchLabels: { app: 'chat' } } };
    const younger = { name: 'younger', createdAt: '2026-01-01T00:00:00Z', podSelector: { matchLabels: { app: 'chat' } } };
    for (const otherRoutes of [[older, younger], [younger, older]]) {
      const p = plan(route(), observed([pod('a')], { otherRoutes }));
      expect(p.status.targetPods).toBe(0);
      expect(cond(p, 'Conflict').message).toBe('pods a are also selected by AIRoute older, which is older and keeps them');
    }
  });
});

describe('eventsBetween(): a Warning for each rejection as it happens, a Normal event as the route becomes Ready', () => {
  const c = (type: string, status: 'True' | 'False', reason: string, message = reason) => ({ type, status, reason, message }) as Parameters<typeof eventsBetween>[1][number];
  const ready = c('Ready', 'True', 'Ready', '1/1 pods run config version 1');

  test('every failing condition warns once; a Synced merely in progress does not; Conflict warns when True', () => {
    const after = [c('Accepted', 'False', 'Invalid'), c('ResolvedRefs', 'False', 'SecretNotResolved'), c('Synced', 'False', 'Pending'), c('Progressing', 'True', 'RollingOut'), c('Conflict', 'True', 'PodsSharedWithOtherRoute'), c('Ready', 'False', 'Invalid')];
    expect(eventsBetween(undefined, after)).toEqual([
      { type: 'Warning', reason: 'Invalid', message: 'Invalid' },
      { type: 'Warning', reason: 'SecretNotResolved', message: 'SecretNotResolved' },
      { type: 'Warning', reason: 'PodsSharedWithOtherRoute', message: 'PodsSharedWithOtherRoute' },
    ]);
    expect(eventsBetween(after, after)).toEqual([]);
  });

  test('conditions that are fine raise no Warning: Accepted/ResolvedRefs True, Conflict False, Synced Synced', () => {
    expect(eventsBetween(undefined, [c('Accepted', 'True', 'Accepted'), c('ResolvedRefs', 'True', 'ResolvedRefs'), c('Synced', 'True', 'Synced'), c('Conflict', 'False', 'NoConflict'), c('Progressing', 'False', 'Complete')])).toEqual([]);
  });

  test('a failing condition that fails anew, for another reason or with another message, warns again', () => {
    const before = [c('Accepted', 'False', 'Invalid', 'spec.a is wrong'), c('Synced', 'False', 'Rejected', 'pod a rejected 1')];
    expect(eventsBetween(before, [c('Accepted', 'False', 'Invalid', 'spec.b is wrong'), c('Synced', 'False', 'Rejected', 'pod a rejected 1')])).toEqual([{ type: 'Warning', reason: 'Invalid', message: 'spec.b is wrong' }]);
    expect(eventsBetween(before, [c('Accepted', 'False', 'Unknown', 'spec.a is wrong')]).map((e) => e.reason)).toEqual(['Unknown']);
    expect(eventsBetween([c('Synced', 'True', 'Rejected', 'm')], [c('Synced', 'False', 'Rejected', 'm')])).toHaveLength(1);
  });

  test('Ready: one Normal event on becoming Ready, none while it stays Ready or when it is not', () => {
    expect(eventsBetween(undefined, [ready])).toEqual([{ type: 'Normal', reason: 'Ready', message: '1/1 pods run config version 1' }]);
    expect(eventsBetween([c('Ready', 'False', 'Pending')], [ready])).toHaveLength(1);
    expect(eventsBetween([ready], [{ ...ready, message: '2/2 pods run config version 1' }])).toEqual([]);
    expect(eventsBetween(undefined, [c('Ready', 'False', 'Pending')])).toEqual([]);
  });
});

test('version 0 is never minted (to a sidecar it means "no config"), even from a status that holds the hash at version 0', () => {
  const p = plan(route(spec(), { configVersion: 0, configHash: H }), observed([pod('a')]));
  expect([p.desired?.version, p.persistVersion, p.push]).toEqual([1, true, ['a']]);
});

describe('plan(): versions, where a pod could mislead it', () => {
  test('new content gets the next version even when no pod has reported yet', () => {
    const p = plan(route(spec(), { configVersion: 4, configHash: 'sha256:old' }), observed([pod('a')]));
    expect([p.desired?.version, p.persistVersion, p.push]).toEqual([5, true, ['a']]);
  });

  test('a pod behind on older other content never pulls the version down', () => {
    const p = plan(route(spec(), { configVersion: 5, configHash: H }), observed([pod('a', { running: { version: 2, hash: 'sha256:prev' } })]));
    expect([p.desired?.version, p.persistVersion, p.push]).toEqual([5, false, ['a']]);
  });

  test('after a revert (same content, newer number) a pod still on the old number with that content is pushed the current version', () => {
    const p = plan(route(spec(), { configVersion: 5, configHash: H }), observed([pod('a', { running: { version: 3, hash: H } })]));
    expect([p.desired?.version, p.status.syncedPods, p.push]).toEqual([5, 0, ['a']]);
  });
});

test('a healthy route says what holds: a valid spec, every ref resolved, no pod shared', () => {
  const p = plan(route(spec(), { configVersion: 1, configHash: H }), observed([pod('a', { running: { version: 1, hash: H } })]));
  expect(cond(p, 'Accepted')).toMatchObject({ reason: 'Accepted', message: 'spec is valid' });
  expect(cond(p, 'ResolvedRefs')).toMatchObject({ reason: 'ResolvedRefs', message: 'every secretKeyRef resolved' });
  expect(cond(p, 'Conflict')).toMatchObject({ status: 'False', reason: 'NoConflict', message: 'no pod is selected by another AIRoute' });
});

test('a lone pod with an IP whose phase is still Pending is starting, not unreachable: nothing to answer for yet', () => {
  const p = plan(route(spec(), { configVersion: 1, configHash: H }), observed([pod('a', { running: { version: 0, hash: null } }, { phase: 'Pending' })]));
  expect(cond(p, 'Synced')).toMatchObject({ status: 'True', reason: 'Synced' });
  expect(p.push).toEqual(['a']);
});

test('while the spec is broken, a pod at the last good version number but with other content is not counted as synced', () => {
  const p = plan(route(spec(), { configVersion: 2, configHash: H }), observed([pod('a', { running: { version: 2, hash: 'sha256:other' } })], { secrets: new Map() }));
  expect(p.status.syncedPods).toBe(0);
  expect(cond(p, 'Synced').reason).toBe('Pending');
});
