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
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage } from '../log.ts';
import type { OperatorMetrics } from '../metrics.ts';
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
  certFile: string;
  keyFile: string;
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

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(c as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export interface RunningWebhook {
  port: number;
  close(): Promise<void>;
}

export async function startWebhook(o: WebhookOptions): Promise<RunningWebhook> {
  const load = async () => ({ cert: await readFile(o.certFile), key: await readFile(o.keyFile) });
  const stamp = async () => `${(await stat(o.certFile)).mtimeMs}/${(await stat(o.keyFile)).mtimeMs}`;
  let current = await stamp();
  const server: Server = createServer({ ...(await load()), minVersion: 'TLSv1.2' }, (req: IncomingMessage, res: ServerResponse) => {
    const send = (code: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return send(200, { status: 'ok' });
    if (req.method !== 'POST' || path !== '/mutate') return send(404, { error: 'not found' });
    readJson(req)
      .then((body) => review(body as AdmissionReview, o))
      .then((out) => send(200, out))
      .catch((err: unknown) => send(400, { error: errorMessage(err) }));
  });
  // Certificates are rotated by whoever issues them (cert-manager, the chart): pick up new files
  // without a restart.
  const reload = setInterval(() => {
    stamp()
      .then(async (s) => {
        if (s === current) return;
        server.setSecureContext({ ...(await load()), minVersion: 'TLSv1.2' });
        current = s;
        o.logger.info('reloaded webhook certificate');
      })
      .catch((err: unknown) => o.logger.warn({ err: errorMessage(err) }, 'could not reload webhook certificate'));
  }, o.reloadIntervalMs ?? 10_000);
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
