// Structural schemas for the third-party custom resources the chart can render (Prometheus
// Operator monitoring.coreos.com/v1, cert-manager.io/v1), transcribed from those projects' CRDs
// (prometheus-operator v0.8x example/prometheus-operator-crd, cert-manager v1.x). Objects are
// closed (unknown fields are reported) except where the upstream CRD itself takes arbitrary
// content; only the fields a chart like this one uses are spelled out in full, the rest are
// declared so that using them is not mistaken for a typo.
import type { StructuralSchema as S } from '../../operator/crd/generate.ts';

const str = (extra: Partial<S> = {}): S => ({ type: 'string', ...extra });
const bool: S = { type: 'boolean' };
const int = (extra: Partial<S> = {}): S => ({ type: 'integer', ...extra });
const obj = (properties: Record<string, S>, required?: string[]): S => ({ type: 'object', properties, ...(required ? { required } : {}) });
const arr = (items: S, extra: Partial<S> = {}): S => ({ type: 'array', items, ...extra });
const strMap: S = { type: 'object', additionalProperties: { type: 'string' } };
/** Anything: the upstream schema is open here (relabel configs, TLS/auth blocks we do not use). */
const open: S = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
/** monitoring.coreos.com Duration */
const duration = str({ pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' });

const labelSelector = obj({
  matchLabels: strMap,
  matchExpressions: arr(obj({ key: str(), operator: str(), values: arr(str()) }, ['key', 'operator'])),
});
const namespaceSelector = obj({ any: bool, matchNames: arr(str()) });
const typeMeta = { apiVersion: str(), kind: str(), metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } as S };

const scrapeEndpoint = {
  path: str(),
  scheme: str({ enum: ['http', 'https', 'HTTP', 'HTTPS'] }),
  params: { type: 'object', additionalProperties: arr(str()) } as S,
  interval: duration,
  scrapeTimeout: duration,
  honorLabels: bool,
  honorTimestamps: bool,
  trackTimestampsStaleness: bool,
  metricRelabelings: arr(open),
  relabelings: arr(open),
  tlsConfig: open,
  authorization: open,
  basicAuth: open,
  oauth2: open,
  bearerTokenSecret: open,
  proxyUrl: str(),
  followRedirects: bool,
  enableHttp2: bool,
  filterRunning: bool,
};

export const SERVICE_MONITOR: S = obj(
  {
    ...typeMeta,
    spec: obj(
      {
        endpoints: arr(obj({ ...scrapeEndpoint, port: str(), targetPort: { 'x-kubernetes-preserve-unknown-fields': true }, bearerTokenFile: str() })),
        selector: labelSelector,
        namespaceSelector,
        jobLabel: str(),
        targetLabels: arr(str()),
        podTargetLabels: arr(str()),
        sampleLimit: int({ minimum: 0 }),
        targetLimit: int({ minimum: 0 }),
        scrapeProtocols: arr(str()),
        attachMetadata: obj({ node: bool }),
        scrapeClass: str({ minLength: 1 }),
      },
      ['selector'],
    ),
  },
  ['spec'],
);

export const POD_MONITOR: S = obj(
  {
    ...typeMeta,
    spec: obj({
      podMetricsEndpoints: arr(obj({ ...scrapeEndpoint, port: str(), portNumber: int({ minimum: 1, maximum: 65535 }), targetPort: { 'x-kubernetes-preserve-unknown-fields': true } })),
      selector: labelSelector,
      namespaceSelector,
      jobLabel: str(),
      podTargetLabels: arr(str()),
      sampleLimit: int({ minimum: 0 }),
      targetLimit: int({ minimum: 0 }),
      scrapeProtocols: arr(str()),
      attachMetadata: obj({ node: bool }),
      scrapeClass: str({ minLength: 1 }),
    }),
  },
  ['spec'],
);

export const PROMETHEUS_RULE: S = obj(
  {
    ...typeMeta,
    spec: obj({
      groups: arr(
        obj(
          {
            name: str({ minLength: 1 }),
            interval: duration,
            query_offset: duration,
            limit: int(),
            labels: strMap,
            partial_response_strategy: str({ pattern: '^(abort|warn|ABORT|WARN|Abort|Warn)?$' }),
            rules: arr(
              obj(
                {
                  alert: str(),
                  record: str(),
                  // int-or-string upstream
                  expr: {},
                  for: duration,
                  keep_firing_for: str({ minLength: 1, pattern: duration.pattern! }),
                  labels: strMap,
                  annotations: strMap,
                },
                ['expr'],
              ),
            ),
          },
          ['name'],
        ),
      ),
    }),
  },
  ['spec'],
);

const USAGES = [
  'signing', 'digital signature', 'content commitment', 'key encipherment', 'key agreement', 'data encipherment', 'cert sign', 'crl sign', 'encipher only', 'decipher only',
  'any', 'server auth', 'client auth', 'code signing', 'email protection', 's/mime', 'ipsec end system', 'ipsec tunnel', 'ipsec user', 'timestamping', 'ocsp signing', 'microsoft sgc', 'netscape sgc',
];
const issuerRef = obj({ name: str(), kind: str(), group: str() }, ['name']);

export const CERTIFICATE: S = obj(
  {
    ...typeMeta,
    spec: obj(
      {
        secretName: str(),
        issuerRef,
        commonName: str(),
        dnsNames: arr(str()),
        ipAddresses: arr(str()),
        uris: arr(str()),
        emailAddresses: arr(str()),
        duration: str(),
        renewBefore: str(),
        renewBeforePercentage: int(),
        usages: arr(str({ enum: USAGES })),
        isCA: bool,
        privateKey: obj({
          algorithm: str({ enum: ['RSA', 'ECDSA', 'Ed25519'] }),
          size: int(),
          encoding: str({ enum: ['PKCS1', 'PKCS8'] }),
          rotationPolicy: str({ enum: ['Never', 'Always'] }),
        }),
        secretTemplate: obj({ annotations: strMap, labels: strMap }),
        subject: open,
        keystores: open,
        revisionHistoryLimit: int(),
        literalSubject: str(),
        additionalOutputFormats: arr(open),
        nameConstraints: open,
        otherNames: arr(open),
        encodeUsagesInRequest: bool,
      },
      ['issuerRef', 'secretName'],
    ),
  },
  ['spec'],
);

export const ISSUER: S = obj(
  {
    ...typeMeta,
    spec: obj({
      selfSigned: obj({ crlDistributionPoints: arr(str()) }),
      ca: obj({ secretName: str(), crlDistributionPoints: arr(str()), issuingCertificateURLs: arr(str()), ocspServers: arr(str()) }, ['secretName']),
      acme: open,
      vault: open,
      venafi: open,
    }),
  },
  ['spec'],
);

/** Keyed by `apiVersion/kind`. */
export const CRD_SCHEMAS: Record<string, S> = {
  'monitoring.coreos.com/v1/ServiceMonitor': SERVICE_MONITOR,
  'monitoring.coreos.com/v1/PodMonitor': POD_MONITOR,
  'monitoring.coreos.com/v1/PrometheusRule': PROMETHEUS_RULE,
  'cert-manager.io/v1/Certificate': CERTIFICATE,
  'cert-manager.io/v1/Issuer': ISSUER,
};
