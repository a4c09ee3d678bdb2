// Starts a sidecar in this process: data listener, admin listener, config from a file or the
// demo. The CLI calls this; tests call it directly to get real servers on ephemeral ports.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { configFromDocument, loadConfigFile } from './config/load.ts';
import { DEFAULTS } from '../api/v1alpha1/config.ts';
import { DEMO_CONFIG, type SecretResolver } from './config/runtime.ts';
import { MemoryJournal } from './events/journal.ts';
import { SidecarMetrics } from './metrics.ts';
import { attachEventsWebSocket } from './events/websocket.ts';
import { AsyncService } from './requests/service.ts';
import { createLogger } from './log.ts';
import { adminServer } from './server/admin.ts';
import { demoUi } from './server/demo-ui.ts';
import { dataPlane } from './server/data-plane.ts';
import { Sidecar, type RequestRecord } from './sidecar.ts';

export interface StartOptions {
  /** Path of a standalone config file; without it the demo backend serves the model `demo`. */
  configFile?: string;
  /** An already-parsed config document (tests). */
  configDocument?: unknown;
  /** Start with no config at all (an injected sidecar waiting for the operator's push). */
  waitForPush?: boolean;
  host?: string;
  port?: number;
  adminHost?: string;
  adminPort?: number;
  adminTokenFile?: string;
  /** Serve the lifecycle demo page at /airoute/demo. */
  demoUi?: boolean;
  logger?: Logger;
  resolveSecrets?: SecretResolver;
}

export interface RunningSidecar {
  sidecar: Sidecar;
  journal: MemoryJournal;
  requests: AsyncService;
  metrics: SidecarMetrics;
  dataPort: number;
  adminPort: number;
  dataURL: string;
  adminURL: string;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export function logRequest(logger: Logger): (rec: RequestRecord) => void {
  return (rec) => {
    const level = rec.outcome === 'success' || rec.outcome === 'cancelled' ? 'info' : 'warn';
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        requestId: rec.id,
        route: rec.route,
        backend: rec.backend,
        model: rec.model,
        stream: rec.stream,
        outcome: rec.outcome,
        status: rec.status,
        code: rec.code,
        attempts: rec.attempts,
        retries: rec.retries,
        fallbacks: rec.fallbacks,
        resumes: rec.resumes,
        durationMs: Math.round(rec.durationMs * 100) / 100,
        ttftMs: rec.ttftMs === undefined ? undefined : Math.round(rec.ttftMs * 100) / 100,
        inputTokens: rec.usage?.inputTokens,
        outputTokens: rec.usage?.outputTokens,
      },
      'request',
    );
  };
}

export async function startSidecar(opts: StartOptions = {}): Promise<RunningSidecar> {
  const logger = opts.logger ?? createLogger();
  const sc = new Sidecar(logger);
  sc.observe({ requestFinished: logRequest(logger) });
  if (!opts.waitForPush) {
    const config = opts.configFile
      ? await loadConfigFile(opts.configFile, opts.resolveSecrets)
      : configFromDocument(opts.configDocument ?? DEMO_CONFIG, opts.configDocument ? 'document' : 'demo', 0, opts.resolveSecrets);
    for (const note of config.notes) logger.warn(note);
    sc.swap(config);
  }
  const retention = () => {
    const j = sc.config?.journal ?? { ...DEFAULTS.journal };
    return { maxRequests: j.maxRequests, maxEventsPerRequest: j.maxEventsPerRequest, maxBytes: j.maxBytes, ttlMs: j.ttlMs };
  };
  const journal = new MemoryJournal(retention());
  sc.onEvent((ev) => journal.append(ev));
  const requests = new AsyncService(sc, () => journal, retention().ttlMs, retention().maxRequests);
  sc.onConfig(() => {
    const r = retention();
    journal.configure(r);
    requests.registry.ttlMs = r.ttlMs;
    requests.registry.maxRecords = r.maxRequests;
  });
  const metrics = new SidecarMetrics(sc, { journal: () => journal, asyncInFlight: () => requests.registry.inFlight });
  requests.onDelivery = (ok) => metrics.webhookDelivered(ok);
  const data = createServer({ keepAliveTimeout: 65_000 }, dataPlane(sc, { asyncApi: requests.api, submitAsync: requests.submit, ...(opts.demoUi ? { demoUi } : {}) }));
  attachEventsWebSocket(data, () => journal);
  const admin = createServer(adminServer(sc, { metrics: () => metrics.exposition(), onPush: (o) => metrics.pushOutcome(o), ...(opts.adminTokenFile ? { tokenFile: opts.adminTokenFile } : {}), ...(opts.resolveSecrets ? { resolveSecrets: opts.resolveSecrets } : {}) }));
  const host = opts.host ?? '127.0.0.1';
  const adminHost = opts.adminHost ?? '127.0.0.1';
  const dataPort = await listen(data, opts.port ?? 4000, host);
  const adminPort = await listen(admin, opts.adminPort ?? 4001, adminHost);
  const urlHost = (h: string) => (h.includes(':') ? `[${h}]` : h);
  return {
    sidecar: sc,
    journal,
    requests,
    metrics,
    dataPort,
    adminPort,
    dataURL: `http://${urlHost(host)}:${dataPort}`,
    adminURL: `http://${urlHost(adminHost)}:${adminPort}`,
    async close() {
      const closed = Promise.all([new Promise<void>((r) => data.close(() => r())), new Promise<void>((r) => admin.close(() => r()))]);
      data.closeAllConnections();
      admin.closeAllConnections();
      await closed;
      requests.close();
      await journal.close();
      await sc.close();
    },
  };
}
