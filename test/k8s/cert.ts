// A self-signed TLS certificate (ECDSA P-256) for HTTPS in tests (the webhook), from the same
// builder the product uses (sidecar/server/x509.ts), so tests need no openssl binary.
import { issueCertificate } from '../../sidecar/tls/x509.ts';

export interface TestCert {
  cert: string;
  key: string;
}

/** A certificate for `localhost` and 127.0.0.1, valid for a day, that is its own CA. */
export function selfSignedCert(cn = 'airoute-webhook.test'): TestCert {
  const c = issueCertificate({ commonName: cn, validityDays: 1, ca: true, altNames: ['localhost', '127.0.0.1'], usage: ['server'] });
  return { cert: c.cert, key: c.key };
}
