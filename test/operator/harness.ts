// A cluster for operator tests: the stand-in API server, a fake kubelet running real sidecars, and
// real operator replicas talking to it through @kubernetes/client-node.
import { Writable } from 'node:stream';
import pino from 'pino';
import { Agent, request } from 'undici';
import type { AIRouteSpec } from '../../api/v1alpha1/airoute.ts';
import { startOperator, type OperatorOptions, type RunningOperator } from '../../operator/operator.ts';
import { StandInApiServer } from '../k8s/api-server.ts';
import { FakeKubelet } from '../k8s/kubelet.ts';
import type { JsonObject } from '../k8s/schema.ts';

export interface TestCluster {
  api: StandInApiServer;
  kubelet: FakeKubelet;
  /** Every log line every operator replica wrote. */
  logs: string[];
  operators: RunningOperator[];
  operator(overrides?: Partial<OperatorOptions>): Promise<RunningOperator>;
  close(): Promise<void>;
}

let replicas = 0;

export async function testCluster(): Promise<TestCluster> {
  const api = await StandInApiServer.start({ bookmarkIntervalMs: 200 });
  const kubelet = await FakeKubelet.start(api);
  const logs: string[] = [];
  const operators: RunningOperator[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return {
    api,
    kubelet,
    logs,
    operators,
    async operator(overrides = {}) {
      const op = await startOperator({
        kubeConfig: api.kubeConfig(),
        identity: `operator-${++replicas}`,
        logger: pino({ level: 'debug', base: { component: 'airoute-operator' } }, sink),
        leaderElection: { enabled: true, namespace: 'airoute-system', name: 'airoute-operator', leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 200 },
        workers: 2,
        push: { concurrency: 16, timeoutMs: 2000, backoff: { baseMs: 100, maxMs: 800 } },
        resyncIntervalMs: 60_000,
        pendingRequeueMs: 1000,
        informerBackoff: { baseMs: 50, maxMs: 500 },
        ...overrides,
      });
      operators.push(op);
      return op;
    },
    async close() {
      await Promise.all(operators.map((o) => o.stop({ crash: true }).catch(() => undefined)));
      await kubelet.close();
      await api.close();
    },
  };
}

export const conditionOf = (o: JsonObject | undefined, type: string): JsonObject | undefined =>
  ((o?.status as JsonObject | undefined)?.conditions as JsonObject[] | undefined)?.find((c) => c.type === type);

export const statusOf = (o: JsonObject | undefined) => (o?.status ?? {}) as { configVersion?: number; configHash?: string; syncedPods?: number; targetPods?: number; observedGeneration?: number; syncedRatio?: string };

/** Ready=True for this generation, at least this version, all targets synced. */
export const readyAt = (version: number, targets?: number) => (o: JsonObject | undefined) => {
  const s = statusOf(o);
  const gen = (o?.metadata as JsonObject | undefined)?.generation;
  return conditionOf(o, 'Ready')?.status === 'True' && s.observedGeneration === gen && (s.configVersion ?? 0) >= version && (targets === undefined || (s.targetPods === targets && s.syncedPods === targets));
};

export function airoute(namespace: string, name: string, spec: AIRouteSpec): JsonObject {
  return { apiVersion: 'airoute.dev/v1alpha1', kind: 'AIRoute', metadata: { name, namespace }, spec: spec as unknown as JsonObject };
}

/** A route to the built-in demo backend (no provider needed) under `model`. */
export function demoSpec(model = 'chat', app = 'chat'): AIRouteSpec {
  return {
    podSelector: { matchLabels: { app } },
    backends: [{ name: 'demo', type: 'demo', demo: { tokens: 3, tokensPerSecond: 1000 } }],
    routes: [{ model, backends: [{ backend: 'demo' }] }],
  };
}

/** What the kubelet's probe sees on a sidecar's admin port (HTTPS; probes do not check the certificate). */
const probeAgent = new Agent({ connect: { rejectUnauthorized: false } });
export async function probe(adminPort: number, path = '/readyz'): Promise<number> {
  const res = await request(`https://127.0.0.1:${adminPort}${path}`, { dispatcher: probeAgent });
  await res.body.dump();
  return res.statusCode;
}

/** One non-streaming chat completion through a sidecar's data port. */
export async function chat(dataPort: number, model: string): Promise<{ status: number; body: JsonObject }> {
  const res = await request(`http://127.0.0.1:${dataPort}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.statusCode, body: (await res.body.json()) as JsonObject };
}

export function secret(namespace: string, name: string, data: Record<string, string>): JsonObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, type: 'Opaque', stringData: data };
}

/** Resolves when `predicate` holds, checking whenever the API server's store changes or every 50 ms
 *  for state outside it (sidecars). */
export async function eventually<T>(probe: () => T | Promise<T>, predicate: (v: T) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await probe();
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}
