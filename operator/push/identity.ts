// The operator's identity toward sidecars: a push CA and a short-lived client certificate it
// issues to itself. The CA's key lives in one Secret in the operator's own namespace (created by
// the first replica that finds none; GitOps-safe: nothing in the chart renders it); its
// certificate (public) is what the webhook puts into every injected sidecar (AIROUTE_PUSH_CA), and
// the only thing those sidecars accept pushes from. The client certificate lives in memory, 30
// days, re-issued after 10.
//
// The CA is valid for 10 years. To replace it: delete the Secret, restart the operator, and
// restart the injected workloads (their sidecars trust the CA of the time they were created;
// until then they keep running, and starting from, what they have).
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { OPERATOR_COMMON_NAME } from '../../api/v1alpha1/push.ts';
import { issueCertificate } from '../../sidecar/tls/x509.ts';
import { errorMessage, statusCode } from '../log.ts';

export const PUSH_CA_SECRET = 'airoute-push-ca';
const CA_DAYS = 3650;
const CLIENT_DAYS = 30;
const CLIENT_RENEW_MS = 10 * 86_400_000;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

export interface PushIdentityOptions {
  core: CoreV1Api;
  /** The operator's namespace (where the CA Secret lives). */
  namespace: string;
  logger: Logger;
  now?: () => number;
}

export class PushIdentity {
  private readonly o: PushIdentityOptions;
  private ca: { cert: string; key: string } | undefined;
  private leaf: { cert: string; key: string; issuedAt: number } | undefined;

  constructor(o: PushIdentityOptions) {
    this.o = o;
  }

  /** Reads the CA Secret, or creates it (a 409 means another replica did: read theirs). */
  async ensure(): Promise<void> {
    const { core, namespace } = this.o;
    for (let attempt = 0; attempt < 3 && !this.ca; attempt++) {
      let s: V1Secret | undefined;
      try {
        s = await core.readNamespacedSecret({ namespace, name: PUSH_CA_SECRET });
      } catch (err) {
        if (statusCode(err) !== 404) throw new Error(`reading Secret ${namespace}/${PUSH_CA_SECRET}: ${errorMessage(err)}`);
      }
      if (s?.data?.['ca.crt'] && s.data['ca.key']) {
        this.ca = { cert: unb64(s.data['ca.crt']), key: unb64(s.data['ca.key']) };
        break;
      }
      const fresh = issueCertificate({ commonName: 'airoute push CA', validityDays: CA_DAYS, ca: true });
      try {
        await core.createNamespacedSecret({
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'Opaque',
            metadata: { name: PUSH_CA_SECRET, namespace, labels: { 'app.kubernetes.io/managed-by': 'airoute-operator', 'app.kubernetes.io/component': 'push-ca' } },
            data: { 'ca.crt': b64(fresh.cert), 'ca.key': b64(fresh.key) },
          },
        });
        this.ca = { cert: fresh.cert, key: fresh.key };
        this.o.logger.info({ namespace, secret: PUSH_CA_SECRET }, 'created the push CA');
      } catch (err) {
        if (statusCode(err) !== 409) throw new Error(`creating Secret ${namespace}/${PUSH_CA_SECRET}: ${errorMessage(err)}`);
      }
    }
    if (!this.ca) throw new Error(`Secret ${namespace}/${PUSH_CA_SECRET} could not be read or created`);
  }

  /** The CA certificate (PEM): what injected sidecars trust. */
  get caCert(): string {
    if (!this.ca) throw new Error('push identity not loaded (ensure() first)');
    return this.ca.cert;
  }

  /** The operator's client certificate, re-issued once it is 10 days old. */
  client(): { cert: string; key: string } {
    const now = (this.o.now ?? Date.now)();
    if (!this.leaf || now - this.leaf.issuedAt > CLIENT_RENEW_MS) {
      const c = issueCertificate({ commonName: OPERATOR_COMMON_NAME, validityDays: CLIENT_DAYS, usage: ['client'], issuer: { cert: this.caCert, key: this.ca!.key } });
      this.leaf = { cert: c.cert, key: c.key, issuedAt: now };
    }
    return { cert: this.leaf.cert, key: this.leaf.key };
  }
}
