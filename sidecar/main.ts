// `airoute sidecar [...]`: flags and environment -> startSidecar. Flags override environment variables.
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { createLogger, LOG_LEVELS } from './log.ts';
import type { Stoppable } from '../cli/signals.ts';
import { startSidecar } from './start.ts';

export const SIDECAR_USAGE = `usage:
  airoute sidecar [--config FILE] [--host 127.0.0.1] [--port 4000]
                  [--admin-host 127.0.0.1] [--admin-port 4001] [--admin-token-file FILE]
                  [--wait-for-push] [--demo-ui] [--log-level info]
                  [--disable-metrics] [--disable-journal]   (only to measure their cost)

environment: AIROUTE_CONFIG, AIROUTE_PORT, AIROUTE_ADMIN_PORT, AIROUTE_ADMIN_TOKEN_FILE, AIROUTE_LOG_LEVEL
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
  const running = await startSidecar({
    ...(configFile ? { configFile } : {}),
    ...(tokenFile ? { adminTokenFile: tokenFile } : {}),
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
      logger.info({ signal }, 'shutting down');
      await running.close();
    },
    flush: () => logger.flush(),
  };
}
