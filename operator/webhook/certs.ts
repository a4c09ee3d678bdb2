// The webhook's serving certificate, managed by the operator itself (controller-runtime's cert
// rotator is the model), so nothing in the chart is generated at render time: `helm template`
// renders the same every time, and Argo CD / Flux never see a new CA per sync.
//
// One Secret in the operator's namespace holds the CA (10 years), the CA bundle and the serving
// certificate (1 year, for the webhook Service's DNS names). Any replica that finds it missing,
// or finds the serving certificate within 30 days of its end (or not issued by the current CA),
// writes a new one (a write that loses the race, 409, reads the winner's). A CA within a year of
// its end is replaced, and the bundle keeps the previous CA until that one expires, so replicas
// still serving a certificate of the old CA stay trusted while they switch. Every replica serves
// what the Secret holds (checked each interval) and makes the MutatingWebhookConfiguration's
// caBundle equal to the Secret's bundle: the API server trusts the new CA before any replica
// serves a certificate from it.
import { X509Certificate } from 'node:crypto';
import type { AdmissionregistrationV1Api, CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { issueCertificate } from '../../sidecar/tls/x509.ts';
import { errorMessage, statusCode } from '../log.ts';

const DAY = 86_400_000;
const CA_DAYS = 3650;
const CERT_DAYS = 365;
const CERT_RENEW_BEFORE = 30 * DAY;
const CA_RENEW_BEFORE = 365 * DAY;

export interface WebhookCertificatesOptions {
  core: CoreV1Api;
  admission: AdmissionregistrationV1Api;
  /** The operator's namespace, where the Secret lives (and the webhook Service). */
  namespace: string;
  secretName: string;
  /** The MutatingWebhookConfiguration whose caBundle is kept right. */
  configurationName: string;
  serviceName: string;
  logger: Logger;
  now?: () => number;
}

export interface ServingCertificate {
  cert: string;
  key: string;
  /** PEM of every CA the API server should trust (current first). */
  bundle: string;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : '');
const pems = (bundle: string) => bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];

export class WebhookCertificates {
  private readonly o: WebhookCertificatesOptions;
  private readonly now: () => number;
  private served: ServingCertificate | undefined;

  constructor(o: WebhookCertificatesOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  get current(): ServingCertificate | undefined {
    return this.served;
  }

  dnsNames(): string[] {
    const { serviceName: s, namespace: n } = this.o;
    return [s, `${s}.${n}`, `${s}.${n}.svc`, `${s}.${n}.svc.cluster.local`];
  }

  private async read(): Promise<V1Secret | undefined> {
    try {
      return await this.o.core.readNamespacedSecret({ namespace: this.o.namespace, name: this.o.secretName });
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw new Error(`reading Secret ${this.o.namespace}/${this.o.secretName}: ${errorMessage(err)}`);
    }
  }

  /** What the Secret should hold now, or undefined when what it holds is fine. */
  private next(s: V1Secret | undefined): Record<string, string> | undefined {
    const now = this.now();
    const d = s?.data ?? {};
    let ca = d['ca.crt'] && d['ca.key'] ? { cert: unb64(d['ca.crt']), key: unb64(d['ca.key']) } : undefined;
    let bundle = unb64(d['ca-bundle.crt']) || ca?.cert || '';
    let changed = false;
    if (!ca || new Date(new X509Certificate(ca.cert).validTo).getTime() - now < CA_RENEW_BEFORE) {
      const fresh = issueCertificate({ commonName: `${this.o.serviceName} webhook CA`, validityDays: CA_DAYS, ca: true });
      // Keep the CAs that are still valid: certificates they issued are trusted until replaced.
      const alive = pems(bundle).filter((p) => new Date(new X509Certificate(p).validTo).getTime() > now);
      ca = { cert: fresh.cert, key: fresh.key };
      bundle = [fresh.cert, ...alive].join('');
      changed = true;
    }
    let cert = d['tls.crt'] && d['tls.key'] ? { cert: unb64(d['tls.crt']), key: unb64(d['tls.key']) } : undefined;
    const x = cert ? new X509Certificate(cert.cert) : undefined;
    if (changed || !x || new Date(x.validTo).getTime() - now < CERT_RENEW_BEFORE || !x.checkIssued(new X509Certificate(ca.cert))) {
      const issued = issueCertificate({ commonName: this.dnsNames()[2]!, validityDays: CERT_DAYS, altNames: this.dnsNames(), usage: ['server'], issuer: ca });
      cert = { cert: issued.cert, key: issued.key };
      changed = true;
    }
    if (!changed) return undefined;
    return { 'ca.crt': b64(ca.cert), 'ca.key': b64(ca.key), 'ca-bundle.crt': b64(bundle), 'tls.crt': b64(cert!.cert), 'tls.key': b64(cert!.key) };
  }

  /** Makes the Secret hold a good certificate and the webhook configuration trust its CA; returns
   *  what to serve. Safe to run on every replica at once. */
  async ensure(): Promise<ServingCertificate> {
    const { core, namespace, secretName } = this.o;
    let secret: V1Secret | undefined;
    for (let attempt = 0; ; attempt++) {
      secret = await this.read();
      const data = this.next(secret);
      if (!data) break;
      try {
        secret = secret
          ? await core.replaceNamespacedSecret({ namespace, name: secretName, body: { ...secret, data } })
          : await core.createNamespacedSecret({
              namespace,
              body: { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: secretName, namespace, labels: { 'app.kubernetes.io/managed-by': 'airoute-operator', 'app.kubernetes.io/component': 'webhook-certificate' } }, data },
            });
        this.o.logger.info({ secret: `${namespace}/${secretName}` }, 'wrote the webhook serving certificate');
        break;
      } catch (err) {
        // Another replica wrote first: use theirs.
        if ((statusCode(err) === 409 || statusCode(err) === 404) && attempt < 3) continue;
        throw new Error(`writing Secret ${namespace}/${secretName}: ${errorMessage(err)}`);
      }
    }
    const d = secret!.data!;
    const serving = { cert: unb64(d['tls.crt']), key: unb64(d['tls.key']), bundle: unb64(d['ca-bundle.crt']) || unb64(d['ca.crt']) };
    await this.injectBundle(serving.bundle);
    this.served = serving;
    return serving;
  }

  /** caBundle of every webhook in the configuration = the bundle (no write when it already is). */
  private async injectBundle(bundle: string): Promise<void> {
    const { admission, configurationName } = this.o;
    const want = b64(bundle);
    for (let attempt = 0; ; attempt++) {
      let mwc;
      try {
        mwc = await admission.readMutatingWebhookConfiguration({ name: configurationName });
      } catch (err) {
        throw new Error(`reading MutatingWebhookConfiguration ${configurationName}: ${errorMessage(err)}`);
      }
      const hooks = mwc.webhooks ?? [];
      if (hooks.every((h) => h.clientConfig.caBundle === want)) return;
      try {
        await admission.replaceMutatingWebhookConfiguration({ name: configurationName, body: { ...mwc, webhooks: hooks.map((h) => ({ ...h, clientConfig: { ...h.clientConfig, caBundle: want } })) } });
        this.o.logger.info({ configuration: configurationName }, 'updated the webhook caBundle');
        return;
      } catch (err) {
        if (statusCode(err) === 409 && attempt < 3) continue;
        throw new Error(`updating MutatingWebhookConfiguration ${configurationName}: ${errorMessage(err)}`);
      }
    }
  }
}
