// `airoute operator`: flags (and the downward-API environment) → startOperator.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { LevelWithSilent } from 'pino';
import type { Stoppable } from '../cli/signals.ts';
import { createOperatorLogger } from './log.ts';
import { startOperator } from './operator.ts';
import type { SidecarConfig } from '../api/v1alpha1/config.ts';
import type { ConfigDefaults } from './reconcile/compile.ts';
import { DEFAULT_INJECTION, type InjectionSettings } from './webhook/inject.ts';

const USAGE = `usage: airoute operator [flags]
  --namespace NS               namespace of the leader Lease (default: $POD_NAMESPACE or airoute-system)
  --watch-namespace NS         only this namespace's AIRoutes and pods (default: all)
  --identity NAME              replica name in the Lease and Events (default: $POD_NAME or hostname)
  --disable-leader-election    run as the only replica
  --lease-duration 15s  --renew-deadline 10s  --retry-period 2s
  --workers 4                  concurrent AIRoute reconciles
  --push-concurrency 64        concurrent pushes to sidecars, all routes together
  --push-timeout 5s  --push-backoff-base 500ms  --push-backoff-max 60s
  --resync-interval 60s        drift check: ask every sidecar what it runs
  --metrics-addr 0.0.0.0:8080  /metrics, /healthz, /readyz
  --webhook-addr 0.0.0.0:9443  --webhook-failure-policy Fail|Ignore   --disable-webhook
  --webhook-certs operator|files   operator (default): its own rotating CA in the Secret
      --webhook-secret-name (airoute-webhook-tls), trusted through the caBundle it keeps in
      --webhook-configuration-name (airoute), issued for --webhook-service-name (airoute-webhook);
      files: tls.crt/tls.key in --webhook-cert-dir /etc/airoute/webhook (cert-manager), reloaded
  --sidecar-image IMAGE  --sidecar-image-pull-policy IfNotPresent  --sidecar-log-level info
  --log-level info`;

/** "15s", "500ms", "2m", "720h" or plain milliseconds. */
export function duration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: not a duration: ${text}`);
  const n = Number(m[1]);
  return Math.round(n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 'ms'] ?? 1));
}

function hostPort(text: string, flag: string): { host: string; port: number } {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${flag}: expected host:port, got ${text}`);
  return { host: text.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

export async function runOperator(args: string[]): Promise<Stoppable | undefined> {
  const { values: v } = parseArgs({
    args,
    strict: true,
    options: {
      namespace: { type: 'string' },
      'watch-namespace': { type: 'string' },
      identity: { type: 'string' },
      'disable-leader-election': { type: 'boolean' },
      'lease-duration': { type: 'string', default: '15s' },
      'renew-deadline': { type: 'string', default: '10s' },
      'retry-period': { type: 'string', default: '2s' },
      workers: { type: 'string', default: '4' },
      'push-concurrency': { type: 'string', default: '64' },
      'push-timeout': { type: 'string', default: '5s' },
      'push-backoff-base': { type: 'string', default: '500ms' },
      'push-backoff-max': { type: 'string', default: '60s' },
      'resync-interval': { type: 'string', default: '60s' },
      'metrics-addr': { type: 'string', default: '0.0.0.0:8080' },
      'webhook-addr': { type: 'string', default: '0.0.0.0:9443' },
      'webhook-cert-dir': { type: 'string', default: '/etc/airoute/webhook' },
      'webhook-certs': { type: 'string', default: 'operator' },
      'webhook-secret-name': { type: 'string', default: 'airoute-webhook-tls' },
      'webhook-configuration-name': { type: 'string', default: 'airoute' },
      'webhook-service-name': { type: 'string', default: 'airoute-webhook' },
      'webhook-failure-policy': { type: 'string', default: 'Fail' },
      'disable-webhook': { type: 'boolean' },
      'sidecar-image': { type: 'string', default: process.env.AIROUTE_SIDECAR_IMAGE ?? DEFAULT_INJECTION.image },
      'sidecar-image-pull-policy': { type: 'string', default: DEFAULT_INJECTION.imagePullPolicy },
      'sidecar-log-level': { type: 'string', default: 'info' },
      'log-level': { type: 'string', default: process.env.AIROUTE_LOG_LEVEL ?? 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    return undefined;
  }
  const certs = v['webhook-certs'];
  if (certs !== 'operator' && certs !== 'files') throw new Error('--webhook-certs: operator or files');
  const policy = v['webhook-failure-policy'];
  if (policy !== 'Fail' && policy !== 'Ignore') throw new Error('--webhook-failure-policy: Fail or Ignore');
  const pull = v['sidecar-image-pull-policy'];
  if (pull !== 'Always' && pull !== 'IfNotPresent' && pull !== 'Never') throw new Error('--sidecar-image-pull-policy: Always, IfNotPresent or Never');
  const logger = createOperatorLogger(v['log-level'] as LevelWithSilent);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const namespace = v.namespace ?? process.env.POD_NAMESPACE ?? readServiceAccountNamespace() ?? 'airoute-system';
  const certDir = v['webhook-cert-dir'];
  const env = fromChartEnvironment(process.env);
  const operator = await startOperator({
    kubeConfig,
    logger,
    identity: v.identity ?? process.env.POD_NAME ?? hostname(),
    ...(v['watch-namespace'] ? { watchNamespace: v['watch-namespace'] } : {}),
    leaderElection: {
      enabled: !v['disable-leader-election'],
      namespace,
      name: 'airoute-operator',
      leaseDurationMs: duration(v['lease-duration'], '--lease-duration'),
      renewDeadlineMs: duration(v['renew-deadline'], '--renew-deadline'),
      retryPeriodMs: duration(v['retry-period'], '--retry-period'),
    },
    workers: Number(v.workers),
    push: {
      concurrency: Number(v['push-concurrency']),
      timeoutMs: duration(v['push-timeout'], '--push-timeout'),
      backoff: { baseMs: duration(v['push-backoff-base'], '--push-backoff-base'), maxMs: duration(v['push-backoff-max'], '--push-backoff-max') },
    },
    resyncIntervalMs: duration(v['resync-interval'], '--resync-interval'),
    pendingRequeueMs: 10_000,
    http: hostPort(v['metrics-addr'], '--metrics-addr'),
    ...(v['disable-webhook']
      ? {}
      : {
          webhook: {
            ...hostPort(v['webhook-addr'], '--webhook-addr'),
            ...(certs === 'files'
              ? { certFile: `${certDir}/tls.crt`, keyFile: `${certDir}/tls.key` }
              : { managed: { secretName: v['webhook-secret-name'], configurationName: v['webhook-configuration-name'], serviceName: v['webhook-service-name'] } }),
            failurePolicy: policy,
            settings: { ...DEFAULT_INJECTION, ...env.injection, image: v['sidecar-image'], imagePullPolicy: pull, logLevel: v['sidecar-log-level'] },
          },
        }),
    processMetrics: true,
    ...(env.defaults ? { configDefaults: env.defaults } : {}),
    // As client-go: a replica that lost the Lease exits and restarts clean rather than guess.
    onLostLeadership: () => {
      logger.error('lost leadership; exiting');
      logger.flush();
      process.exit(1);
    },
  });
  return {
    async stop(signal) {
      logger.info({ signal }, 'shutting down');
      await operator.stop();
    },
    flush: () => logger.flush(),
  };
}

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Settings the Helm chart passes as environment variables: the injected sidecar's ports and
 * resources, and the journal store every pushed config gets unless its AIRoute names one.
 */
export function fromChartEnvironment(env: NodeJS.ProcessEnv): { injection: Partial<InjectionSettings>; defaults?: ConfigDefaults } {
  const injection: Partial<InjectionSettings> = {};
  const port = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name}: not a port number: ${raw}`);
    return n;
  };
  const json = (name: string): unknown => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    try {
      return JSON.parse(raw);
    } catch (err) {
      throw new Error(`${name}: not JSON (${(err as Error).message})`);
    }
  };
  const data = port('AIROUTE_SIDECAR_DATA_PORT');
  const admin = port('AIROUTE_SIDECAR_ADMIN_PORT');
  if (data !== undefined) injection.dataPort = data;
  if (admin !== undefined) injection.adminPort = admin;
  const resources = json('AIROUTE_SIDECAR_RESOURCES');
  if (resources !== undefined) injection.resources = resources as InjectionSettings['resources'];
  const journal = json('AIROUTE_JOURNAL') as SidecarConfig['journal'] | undefined;
  if (!journal || (journal.type ?? 'memory') === 'memory') return { injection };
  // No password: a credential shared by every tenant's sidecars would be readable in every injected
  // pod. Each namespace brings its own (spec.journal.password), and gets its own key prefix.
  if (journal.password) throw new Error('AIROUTE_JOURNAL: no password here; set spec.journal.password in each AIRoute (a Secret of its namespace)');
  return { injection, defaults: { journal } };
}
