// The mutating admission webhook: HTTPS (the API server only calls webhooks over TLS), served by
// every operator replica (it needs no leadership). POST /mutate takes an admission.k8s.io/v1
// AdmissionReview and answers with the injection patch.
//
// Failure policy. Two settings must agree: the MutatingWebhookConfiguration's failurePolicy
// (what the API server does when it cannot reach the webhook) and --webhook-failure-policy (what
// the webhook answers when it cannot do its job). `Ignore` (fail open): the pod is admitted
// without a sidecar and runs unproxied.
// `Fail` (fail closed): the pod is refused, and its controller retries. Default: Fail, because a
// pod that asked for the sidecar and silently runs without it talks to providers unmanaged.
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from '../log.ts';
import type { OperatorMetrics } from '../metrics.ts';
import type { WebhookCertificates } from './certs.ts';
import { injectionPatch, wantsInjection, type InjectionSettings, type PodOwner } from './inject.ts';

export type FailurePolicy = 'Fail' | 'Ignore';

export interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  namespace?: string;
  operation?: string;
  object?: V1Pod;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: {
    uid: string;
    allowed: boolean;
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
    status?: { code: number; message: string };
  };
}

export interface WebhookOptions {
  /** cert-manager's certificate, mounted (tls.crt, tls.key). */
  certFile?: string;
  keyFile?: string;
  /** Or the operator's own rotating CA. */
  certificates?: WebhookCertificates;
  host: string;
  port: number;
  settings: InjectionSettings;
  failurePolicy: FailurePolicy;
  /** The AIRoute that owns a pod with these labels (its snapshot and Secrets get mounted). */
  ownerOf?: (namespace: string, labels: Record<string, string>) => PodOwner | undefined;
  logger: Logger;
  metrics: OperatorMetrics;
  /** How often to check the cert files for rotation. */
  reloadIntervalMs?: number;
}

const MAX_BODY = 3 * 1024 * 1024;

/** Decides one AdmissionReview. Exported for tests; the server wraps it. */
export async function review(body: AdmissionReview, o: Pick<WebhookOptions, 'settings' | 'failurePolicy' | 'logger' | 'metrics' | 'ownerOf'>): Promise<AdmissionReview> {
  const req = body.request;
  const answer = (response: Omit<NonNullable<AdmissionReview['response']>, 'uid'>): AdmissionReview => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: req?.uid ?? '', ...response },
  });
  if (!req?.uid) {
    o.metrics.webhookRequests.inc({ outcome: 'error' });
    return answer({ allowed: o.failurePolicy === 'Ignore', status: { code: 400, message: 'not an AdmissionReview request' } });
  }
  const pod = req.object;
  if (req.kind?.kind !== 'Pod' || req.operation !== 'CREATE' || !pod || !wantsInjection(pod)) {
    o.metrics.webhookRequests.inc({ outcome: 'skipped' });
    return answer({ allowed: true });
  }
  const namespace = req.namespace ?? pod.metadata?.namespace ?? '';
  let patch: ReturnType<typeof injectionPatch>;
  try {
    patch = injectionPatch(pod, o.settings, o.ownerOf?.(namespace, pod.metadata?.labels ?? {}));
  } catch (err) {
    const message = `airoute sidecar injection failed: ${errorMessage(err)}`;
    o.logger.error({ namespace, err: errorMessage(err), failurePolicy: o.failurePolicy }, 'injection failed');
    o.metrics.webhookRequests.inc({ outcome: 'error' });
    return o.failurePolicy === 'Ignore' ? answer({ allowed: true, warnings: [`${message}; admitted without the sidecar (failure policy Ignore)`] }) : answer({ allowed: false, status: { code: 500, message } });
  }
  if (!patch) {
    o.metrics.webhookRequests.inc({ outcome: 'skipped' });
    return answer({ allowed: true });
  }
  o.metrics.webhookRequests.inc({ outcome: 'injected' });
  return answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}

export interface RunningWebhook {
  port: number;
  close(): Promise<void>;
}

/** Where the serving certificate comes from: files (cert-manager's Secret, mounted; reloaded when
 *  they change), or the operator's own rotating CA (certs.ts; the Secret read through the API). */
type CertificateSource = { load(): Promise<{ cert: string | Buffer; key: string | Buffer }>; stamp(): Promise<string> };

function certificateSource(o: WebhookOptions): CertificateSource {
  if (o.certificates) {
    const managed = o.certificates;
    return {
      load: async () => managed.current ?? (await managed.ensure()),
      stamp: async () => (await managed.ensure()).cert,
    };
  }
  const { certFile, keyFile } = o;
  if (!certFile || !keyFile) throw new Error('the webhook needs certificate files or operator-managed certificates');
  return {
    load: async () => ({ cert: await readFile(certFile), key: await readFile(keyFile) }),
    stamp: async () => `${(await stat(certFile)).mtimeMs}/${(await stat(keyFile)).mtimeMs}`,
  };
}

class WebhookError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The webhook's HTTP surface, an express router with its middleware in one place: the body limit
 *  (an AdmissionReview carries one Pod), JSON parsing, and one error shape. */
export function webhookApp(o: Pick<WebhookOptions, 'settings' | 'failurePolicy' | 'logger' | 'metrics' | 'ownerOf'>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const router = express.Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.post('/mutate', express.json({ limit: MAX_BODY, type: () => true }), async (req: Request, res: Response) => {
    if (typeof req.body !== 'object' || req.body === null) throw new WebhookError(400, 'not an AdmissionReview');
    res.json(await review(req.body as AdmissionReview, o));
  });
  app.use(router);
  app.use((req, _res, next) => next(new WebhookError(404, `no such endpoint: ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof WebhookError ? err.status : typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    if (status >= 500) o.logger.error({ err: errorMessage(err) }, 'webhook request failed');
    res.status(status).json({ error: status >= 500 ? 'internal error' : errorMessage(err) });
  });
  return app;
}

export async function startWebhook(o: WebhookOptions): Promise<RunningWebhook> {
  const source = certificateSource(o);
  let current = await source.stamp();
  const server: Server = createServer({ ...(await source.load()), minVersion: 'TLSv1.2' }, webhookApp(o));
  // Certificates rotate (cert-manager renews the files; the operator's own CA renews the Secret):
  // serve the new one without a restart.
  const reload = setInterval(() => {
    source
      .stamp()
      .then(async (s) => {
        if (s === current) return;
        server.setSecureContext({ ...(await source.load()), minVersion: 'TLSv1.2' });
        current = s;
        o.logger.info('reloaded webhook certificate');
      })
      .catch((err: unknown) => o.logger.warn({ err: errorMessage(err) }, 'could not reload webhook certificate'));
  }, o.reloadIntervalMs ?? (o.certificates ? 60_000 : 10_000));
  reload.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        clearInterval(reload);
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
