// Starts a sidecar in this process: data listener, admin listener, config from a file or the
// demo. The CLI calls this; tests call it directly to get real servers on ephemeral ports.
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { configFromDocument, loadConfigFile } from './config/load.ts';
import { DEFAULTS } from '../api/v1alpha1/constants.ts';
import { demoConfig, demoWebhookUrl } from './config/demo.ts';
import { envSecrets, type RuntimeConfig, type SecretResolver } from './config/runtime.ts';
import { MemoryJournal, type Journal, type Retention } from './events/journal.ts';
import type { RedisJournal, RedisJournalOptions } from './events/redis/journal.ts';
import { SidecarMetrics, type ConfigPushResult } from './metrics.ts';
import { startTracing } from './tracing.ts';
import { attachEventsWebSocket } from './events/websocket.ts';
import { NO_BROWSER_ORIGINS } from './net/browser-policy.ts';
import type { HostResolver } from './requests/destinations.ts';
import { AsyncRegistry } from './requests/registry.ts';
import { AsyncService } from './requests/service.ts';
import type { AsyncStore } from './requests/store.ts';
import { createLogger } from './log.ts';
import { adminServer } from './server/admin.ts';
import { pushTrust } from './server/admin-tls.ts';
import { Drain, type DrainResult } from './lifecycle/drain.ts';
import { SnapshotWatcher } from './config/watch.ts';
import { demoUi } from './server/demo-ui.ts';
import { controlApi } from './server/control-api.ts';
import { dataPlane } from './server/data-plane.ts';
import { MemoryGuard } from './server/load-shed.ts';
import { responsesEndpoints } from './server/responses.ts';
import { MemoryResponseStore, STORE_SHARE_OF_JOURNAL_BYTES, type ResponseStore } from './responses/store.ts';
import { ResponsesService } from './responses/service.ts';
import { Sidecar, type RequestRecord } from './sidecar.ts';

export interface StartOptions {
  /** Path of a standalone config file; without it the demo backend serves the model `demo`. */
  configFile?: string;
  /** An already-parsed config document (tests). */
  configDocument?: unknown;
  /** Start with no config at all (an injected sidecar waiting for the operator's push). */
  waitForPush?: boolean;
  /** The operator's config snapshot for this pod (mounted), loaded at start and re-read on change. */
  configSnapshot?: string;
  /** Where the Secrets the snapshot references are mounted (`<dir>/<secret>/<key>`). */
  secretsDir?: string;
  snapshotIntervalMs?: number;
  host?: string;
  port?: number;
  adminHost?: string;
  adminPort?: number;
  adminTokenFile?: string;
  /** The push CA (PEM): the admin port speaks TLS and takes pushes only from the operator's client
   *  certificate; GET /identity proves which pod this is (injected sidecars). */
  pushCa?: string;
  /** The pod's projected ServiceAccount token (audience airoute-operator). */
  identityTokenFile?: string;
  /** Record metrics (default true; false only to measure their cost). */
  metrics?: boolean;
  /** Journal every request's events (default true; false only to measure the cost: events and async stop working). */
  journal?: boolean;
  /** Where OTEL_* settings come from (default process.env); traces are on when an OTLP endpoint is set. */
  env?: NodeJS.ProcessEnv;
  /** Serve the lifecycle demo page at /airoute/demo. */
  demoUi?: boolean;
  logger?: Logger;
  resolveSecrets?: SecretResolver;
  /** How webhook hosts are resolved (default: the system resolver); tests play DNS rebinding with their own. */
  resolveHost?: HostResolver;
  /** Redis journal tuning the config does not carry (tests, benchmarks): buffer bounds, instance name. */
  redis?: Partial<Pick<RedisJournalOptions, 'maxBufferedEvents' | 'maxBufferedBytes' | 'instance'>>;
}

export interface RunningSidecar {
  sidecar: Sidecar;
  /** The journal chosen with the first config (memory until then). */
  readonly journal: Journal;
  requests: AsyncService;
  metrics: SidecarMetrics | undefined;
  dataPort: number;
  adminPort: number;
  dataURL: string;
  adminURL: string;
  /** SHA-256 fingerprint of the admin port's certificate (TLS mode). */
  adminFingerprint?: string;
  /** SIGTERM: readiness fails, new requests get 503, in-flight ones finish (up to the deadline). */
  drain(deadlineMs: number): Promise<DrainResult>;
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

/**
 * One log line per request that failed (warn), and per request at all at `debug`. A line for every
 * successful request at the default level would be the sidecar's single largest per-request cost
 * (serialising, redacting and writing it: about a quarter of its CPU at saturation), for what the
 * metrics and the request's events already say; as with Envoy's and Linkerd's access logs, asking
 * for it is a choice (`--log-level debug`).
 */
export function logRequest(logger: Logger): (rec: RequestRecord) => void {
  return (rec) => {
    const level = rec.outcome === 'success' || rec.outcome === 'cancelled' ? 'debug' : 'warn';
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        requestId: rec.id,
        route: rec.route,
        api: rec.format,
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
  sc.resilience.onCircuitChange((c) => logger[c.state === 'closed' ? 'info' : 'warn'](c, `${c.level} circuit ${c.state}`));
  if (!opts.waitForPush) {
    const config = opts.configFile
      ? await loadConfigFile(opts.configFile, opts.resolveSecrets)
      : configFromDocument(opts.configDocument ?? demoConfig(), opts.configDocument ? 'document' : 'demo', 0, opts.resolveSecrets);
    for (const note of config.notes) logger.warn(note);
    sc.swap(config);
  }
  const retention = (): Retention => {
    const j = sc.config?.journal ?? { ...DEFAULTS.journal };
    return { maxRequests: j.maxRequests, maxEventsPerRequest: j.maxEventsPerRequest, maxBytes: j.maxBytes, ttlMs: j.ttlMs };
  };
  // The journal store (and the async records beside it) is chosen with the first config the
  // sidecar runs, the file's or the first push's, and kept for the life of the process: events
  // and records cannot move between stores mid-flight. A later push that changes the store
  // (type, url, keyPrefix, password, ownerLeaseMs) is logged and takes effect at the next restart; its
  // retention settings apply at once.
  let journal: Journal = new MemoryJournal(retention());
  let store: AsyncStore = new AsyncRegistry(retention().ttlMs, retention().maxRequests, sc.config?.asyncMaxStoredBytes ?? DEFAULTS.asyncMaxStoredBytes);
  // Stored Responses API responses (previous_response_id, GET /v1/responses/{id}) live beside the async records.
  const storedResponses = (r: Retention): [number, number, number] => [r.ttlMs, r.maxRequests, Math.floor(r.maxBytes * STORE_SHARE_OF_JOURNAL_BYTES)];
  let responseStore: ResponseStore = new MemoryResponseStore(...storedResponses(retention()));
  let chosen: string | undefined;
  const storeIdentity = (c: RuntimeConfig) => {
    const src = c.source.journal ?? {};
    return JSON.stringify([c.journal.type, c.journal.url ?? null, c.journal.keyPrefix, src.password ?? null, src.ownerLeaseMs ?? null]);
  };
  const requests = new AsyncService(sc, () => journal, () => store, opts.resolveHost ? { resolveHost: opts.resolveHost } : {});
  // The Redis client is loaded only by sidecars that use it: it is ~20 MB of resident memory.
  const choose = async (c: RuntimeConfig): Promise<void> => {
    chosen = storeIdentity(c);
    if (c.journal.type !== 'redis' || !c.journal.url) return;
    const { RedisJournal, redactUrl } = await import('./events/redis/journal.ts');
    const { RedisAsyncStore } = await import('./requests/redis-store.ts');
    const { RedisResponseStore } = await import('./responses/redis-store.ts');
    const src = c.source.journal ?? {};
    let password: string | undefined;
    let configError: string | undefined;
    if (src.password) {
      const r = (opts.resolveSecrets ?? envSecrets())(src.password, 'journal.password');
      if (typeof r === 'string') password = r;
      else configError = `${r.path}: ${r.message}`;
    }
    const placeholder = journal;
    const rj = new RedisJournal({
      url: c.journal.url,
      keyPrefix: c.journal.keyPrefix,
      retention: retention(),
      logger,
      ...(password !== undefined ? { password } : {}),
      ...(configError !== undefined ? { configError } : {}),
      ...(src.ownerLeaseMs !== undefined ? { ownerLeaseMs: src.ownerLeaseMs } : {}),
      ...opts.redis,
    });
    rj.onLost = (id) => requests.lost(id);
    rj.onControl = (msg) => requests.control(msg);
    rj.onTakenOver = (id) => requests.takenOver(id);
    journal = rj;
    store.close();
    store = new RedisAsyncStore(rj, retention().ttlMs);
    responseStore.close();
    responseStore = new RedisResponseStore(rj, retention().ttlMs);
    void placeholder.close();
    logger.info({ store: redactUrl(c.journal.url), keyPrefix: c.journal.keyPrefix, instance: rj.instance }, 'event journal and async records on Redis');
    if (configError) logger.error({ reason: configError }, 'the Redis journal cannot be used; async requests are refused until this is fixed');
  };
  const usesRedis = (j: Journal): j is RedisJournal => 'connected' in j;
  if (sc.config) {
    await choose(sc.config);
    // Start ready when the store is there; an unreachable one does not hold the start up for long
    // (sync traffic needs no store; readiness says what is missing).
    if (usesRedis(journal) && !(await journal.connected(3_000))) logger.warn({ reason: journal.unavailable() }, 'starting without the journal store');
  }
  // --disable-journal exists to measure what journaling costs; events and async then do not work.
  if (opts.journal !== false) sc.onEvent((ev) => journal.append(ev));
  sc.onConfig((c) => {
    if (chosen === undefined) void choose(c).catch((err: unknown) => logger.error({ err: (err as Error).message }, 'cannot open the journal store'));
    else if (storeIdentity(c) !== chosen)
      logger.warn({ version: c.version }, 'journal store settings changed: the sidecar keeps its current journal store until it restarts (retention settings apply now)');
    const r = retention();
    (journal as MemoryJournal | RedisJournal).configure(r);
    store.configure(r.ttlMs, r.maxRequests, c.asyncMaxStoredBytes);
    responseStore.configure(...storedResponses(r));
  });
  // --disable-metrics exists to measure what metrics cost (the benchmark compares both).
  const memory = new MemoryGuard();
  const metrics = opts.metrics === false ? undefined : new SidecarMetrics(sc, { journal: () => journal, asyncInFlight: () => requests.inFlight, shed: () => memory.shed });
  if (metrics) requests.onDelivery = (ok) => metrics.webhookDelivered(ok);
  const drain = new Drain(() => requests.inFlight);
  const control = controlApi({
    requests,
    journal: () => journal,
    ...(opts.demoUi ? { demoUi: demoUi(sc) } : {}),
    onInternalError: (err) => sc.defect('control', err),
  });
  const responses = new ResponsesService(sc, requests, () => journal, () => responseStore);
  const responsesApi = responsesEndpoints(sc, responses, { requests, ...(metrics ? { onCall: (e, s) => metrics.responsesCall(e, s) } : {}) });
  const data = createServer({ keepAliveTimeout: 65_000 }, drain.guard(dataPlane(sc, { requests, control, responses: responsesApi, memory })));
  attachEventsWebSocket(data, () => journal, { onInternalError: (err) => sc.defect('events', err), policy: () => sc.config?.cors ?? NO_BROWSER_ORIGINS });
  const degradedReasons = () => {
    const why = journal.unavailable?.();
    return why ? [why] : [];
  };
  const trust = opts.pushCa ? pushTrust({ pushCa: opts.pushCa, ...(opts.identityTokenFile ? { identityTokenFile: opts.identityTokenFile } : {}) }) : undefined;
  const adminApp = adminServer(sc, {
    ...(trust ? { pushAuth: trust.pushAuth, extend: trust.extend } : {}),
    ...(metrics ? { metrics: () => metrics.exposition(), onPush: (o: ConfigPushResult) => metrics.pushOutcome(o) } : {}),
    degradedReasons,
    draining: () => drain.draining,
    onInternalError: (err: unknown) => sc.defect('admin', err),
    ...(opts.adminTokenFile ? { tokenFile: opts.adminTokenFile } : {}),
    ...(opts.resolveSecrets ? { resolveSecrets: opts.resolveSecrets } : {}),
  });
  const admin: Server = trust ? createHttpsServer(trust.tls, adminApp) : createServer(adminApp);
  const snapshot = opts.configSnapshot
    ? new SnapshotWatcher(sc, { file: opts.configSnapshot, logger, ...(opts.secretsDir ? { secretsDir: opts.secretsDir } : {}), ...(opts.snapshotIntervalMs ? { intervalMs: opts.snapshotIntervalMs } : {}), ...(opts.resolveSecrets ? { resolveSecrets: opts.resolveSecrets } : {}) })
    : undefined;
  if (snapshot) {
    await snapshot.check();
    snapshot.start();
  }
  const tracing = await startTracing(sc, opts.env ?? process.env);
  const host = opts.host ?? '127.0.0.1';
  const adminHost = opts.adminHost ?? '127.0.0.1';
  const dataPort = await listen(data, opts.port ?? 4000, host);
  const adminPort = await listen(admin, opts.adminPort ?? 4001, adminHost);
  // The demo page receives its own completion webhooks: the allow-list entry names the port just bound.
  if (opts.demoUi && !opts.waitForPush && !opts.configFile && opts.configDocument === undefined)
    sc.swap(configFromDocument(demoConfig({ webhookReceiver: demoWebhookUrl(host, dataPort) }), 'demo', 0, opts.resolveSecrets));
  const urlHost = (h: string) => (h.includes(':') ? `[${h}]` : h);
  return {
    sidecar: sc,
    get journal() {
      return journal;
    },
    requests,
    metrics,
    dataPort,
    adminPort,
    dataURL: `http://${urlHost(host)}:${dataPort}`,
    adminURL: `${trust ? 'https' : 'http'}://${urlHost(adminHost)}:${adminPort}`,
    ...(trust ? { adminFingerprint: trust.fingerprint256 } : {}),
    drain: (deadlineMs) => drain.drain(deadlineMs),
    async close() {
      snapshot?.close();
      const closed = Promise.all([new Promise<void>((r) => data.close(() => r())), new Promise<void>((r) => admin.close(() => r()))]);
      data.closeAllConnections();
      admin.closeAllConnections();
      await closed;
      requests.close();
      memory.close();
      responseStore.close();
      await tracing?.shutdown();
      await journal.close();
      await sc.close();
    },
  };
}
