#!/usr/bin/env node
// `airoute sidecar [...]` and `airoute operator`. Flags override environment variables.
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { ConfigError } from './config/load.ts';
import { createLogger, LOG_LEVELS } from './log.ts';
import { drainDeadline } from './lifecycle/drain.ts';
import { startSidecar } from './start.ts';

const USAGE = `usage:
  airoute sidecar [--config FILE] [--host 127.0.0.1] [--port 4000]
                  [--admin-host 127.0.0.1] [--admin-port 4001] [--admin-token-file FILE]
                  [--wait-for-push] [--demo-ui] [--log-level info] [--drain-timeout 25s]
                  [--config-snapshot FILE] [--secrets-dir /var/run/airoute/secrets]
                  [--identity-token-file /var/run/airoute/identity/token]   (with AIROUTE_PUSH_CA)
                  [--disable-metrics] [--disable-journal]   (only to measure their cost)
  airoute operator

environment: AIROUTE_CONFIG, AIROUTE_PORT, AIROUTE_ADMIN_PORT, AIROUTE_ADMIN_TOKEN_FILE, AIROUTE_LOG_LEVEL,
             AIROUTE_DRAIN_TIMEOUT, AIROUTE_CONFIG_SNAPSHOT, AIROUTE_SECRETS_DIR,
             AIROUTE_PUSH_CA (PEM: the admin port speaks TLS and takes pushes only from the operator)
With no config the sidecar serves the built-in demo backend under the model name "demo".`;

function port(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name}: not a port number: ${value}`);
  return n;
}

async function sidecar(args: string[]): Promise<void> {
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
    console.log(USAGE);
    return;
  }
  const env = process.env;
  const level = (values['log-level'] ?? env.AIROUTE_LOG_LEVEL ?? 'info') as LevelWithSilent;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`--log-level: one of ${LOG_LEVELS.join(', ')}`);
  const logger = createLogger(level);
  const configFile = values.config ?? env.AIROUTE_CONFIG;
  const tokenFile = values['admin-token-file'] ?? env.AIROUTE_ADMIN_TOKEN_FILE;
  const snapshot = values['config-snapshot'] ?? env.AIROUTE_CONFIG_SNAPSHOT;
  const secretsDir = values['secrets-dir'] ?? env.AIROUTE_SECRETS_DIR;
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
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    running.close().finally(() => {
      logger.flush();
      process.exit(0);
    });
  };
  // SIGTERM drains (in-flight requests finish, new ones get 503) before stopping; SIGINT stops now.
  const drainMs = drainDeadline(values['drain-timeout'] ?? env.AIROUTE_DRAIN_TIMEOUT);
  process.once('SIGTERM', () => {
    logger.info({ deadlineMs: drainMs }, 'SIGTERM: draining');
    void running.drain(drainMs).then((r) => {
      if (!r.clean) logger.warn(r, 'drain deadline reached with requests still running');
      stop('SIGTERM');
    });
  });
  process.once('SIGINT', () => stop('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'sidecar':
      return sidecar(rest);
    case 'operator': {
      const operator = await import('../operator/main.ts').catch((err: unknown) => {
        // The sidecar image leaves the operator (and its Kubernetes client) out on purpose.
        throw new Error(`the operator is not part of this build (use the operator image): ${(err as Error).message}`);
      });
      return operator.runOperator(rest);
    }
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return;
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(`airoute: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
