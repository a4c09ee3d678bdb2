// `airoute sidecar [...]`: flags and environment -> startSidecar. Flags override environment variables.
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { createLogger, LOG_LEVELS } from './log.ts';
import type { Stoppable } from '../cli/signals.ts';
import { drainDeadline } from './lifecycle/drain.ts';
import { startSidecar } from './start.ts';

export const SIDECAR_USAGE = `usage:
  airoute sidecar [--config FILE] [--host 127.0.0.1] [--port 4000]
                  [--admin-host 127.0.0.1] [--admin-port 4001] [--admin-token-file FILE]
                  [--wait-for-push] [--demo-ui] [--log-level info] [--drain-timeout 25s]
                  [--config-snapshot FILE] [--secrets-dir /var/run/airoute/secrets]
                  [--identity-token-file /var/run/airoute/identity/token]   (with AIROUTE_PUSH_CA)
                  [--disable-metrics] [--disable-journal]   (only to measure their cost)

environment: AIROUTE_CONFIG, AIROUTE_PORT, AIROUTE_ADMIN_PORT, AIROUTE_ADMIN_TOKEN_FILE, AIROUTE_LOG_LEVEL,
             AIROUTE_DRAIN_TIMEOUT, AIROUTE_CONFIG_SNAPSHOT, AIROUTE_SECRETS_DIR,
             AIROUTE_PUSH_CA (PEM: the admin port speaks TLS and takes pushes only from the operator)
With no config the sidecar serves the built-in demo backend: the model "demo", and "demo-flaky",
"demo-rate-limited", "demo-down" and "demo-diverge", whose failures are scripted.`;

function port(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}: not a port number: ${value}`);
  return n;
}

export async function runSidecar(args: string[]): Promise<Stoppable | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'admin-host': { type: 'string' },
      'admin-port': { type: 'string' },
      'admin-token-file': { type: 'string' },
      'wait-for-push': { type: 'boolean' },
      'demo-ui': { type: 'boolean' },
      'disable-metrics': { type: 'boolean' },
      'disable-journal': { type: 'boolean' },
      'log-level': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'config-snapshot': { type: 'string' },
      'secrets-dir': { type: 'string' },
      'identity-token-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(SIDECAR_USAGE);
    return undefined;
  }
  const env = process.env;
  const level = (values['log-level'] ?? env.AIROUTE_LOG_LEVEL ?? 'info') as LevelWithSilent;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`--log-level: one of ${LOG_LEVELS.join(', ')}`);
  const logger = createLogger(level);
  const configFile = values.config ?? env.AIROUTE_CONFIG;
  const tokenFile = values['admin-token-file'] ?? env.AIROUTE_ADMIN_TOKEN_FILE;
  const snapshot = values['config-snapshot'] ?? env.AIROUTE_CONFIG_SNAPSHOT;
  const secretsDir = values['secrets-dir'] ?? env.AIROUTE_SECRETS_DIR;
  const drainMs = drainDeadline(values['drain-timeout'] ?? env.AIROUTE_DRAIN_TIMEOUT);
  const running = await startSidecar({
    ...(configFile ? { configFile } : {}),
    ...(tokenFile ? { adminTokenFile: tokenFile } : {}),
    ...(snapshot ? { configSnapshot: snapshot } : {}),
    ...(secretsDir ? { secretsDir } : {}),
    ...(env.AIROUTE_PUSH_CA ? { pushCa: env.AIROUTE_PUSH_CA } : {}),
    ...(values['identity-token-file'] ? { identityTokenFile: values['identity-token-file'] } : {}),
    waitForPush: values['wait-for-push'] === true,
    demoUi: values['demo-ui'] === true,
    metrics: values['disable-metrics'] !== true,
    journal: values['disable-journal'] !== true,
    host: values.host ?? '127.0.0.1',
    port: port(values.port ?? env.AIROUTE_PORT, '--port', 4000),
    adminHost: values['admin-host'] ?? '127.0.0.1',
    adminPort: port(values['admin-port'] ?? env.AIROUTE_ADMIN_PORT, '--admin-port', 4001),
    logger,
  });
  const c = running.sidecar.config;
  logger.info(
    { data: running.dataURL, admin: running.adminURL, routes: c ? [...c.routes.keys()] : [], version: c?.version ?? null },
    c
      ? `airoute sidecar ready: point your SDK's base URL at ${running.dataURL}/v1${values['demo-ui'] ? `; lifecycle demo at ${running.dataURL}/airoute/demo` : ''}`
      : 'airoute sidecar waiting for a config push',
  );
  return {
    async stop(signal) {
      // SIGTERM drains (in-flight requests finish, new ones get 503) before stopping; SIGINT stops now.
      if (signal === 'SIGTERM') {
        logger.info({ deadlineMs: drainMs }, 'SIGTERM: draining');
        const r = await running.drain(drainMs);
        if (!r.clean) logger.warn(r, 'drain deadline reached with requests still running');
      }
      logger.info({ signal }, 'shutting down');
      await running.close();
    },
    flush: () => logger.flush(),
  };
}
