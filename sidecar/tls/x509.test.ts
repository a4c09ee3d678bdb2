import { X509Certificate } from 'node:crypto';
import { createServer as createTlsServer, connect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { expect, test } from 'vitest';
import { issueCertificate } from './x509.ts';

test('a CA and a leaf it signs: node:crypto verifies the chain, the names, the usages and the dates', () => {
  const ca = issueCertificate({ commonName: 'airoute test CA', validityDays: 3650, ca: true });
  const leaf = issueCertificate({ commonName: 'svc.ns.svc', validityDays: 30, altNames: ['svc.ns.svc', '127.0.0.1', '::1'], usage: ['server'], issuer: ca });
  const c = new X509Certificate(ca.cert);
  const l = new X509Certificate(leaf.cert);
  expect(c.ca).toBe(true);
  expect(c.verify(c.publicKey)).toBe(true);
  expect(l.ca).toBe(false);
  expect(l.checkIssued(c)).toBe(true);
  expect(l.verify(c.publicKey)).toBe(true);
  expect(l.subjectAltName).toBe('DNS:svc.ns.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  expect(l.issuer).toBe('CN=airoute test CA');
  expect(l.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  expect(new Date(l.validTo).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  expect(l.fingerprint256).toBe(leaf.fingerprint256);
  // A CA beyond 2049 uses GeneralizedTime and still parses.
  expect(new Date(new X509Certificate(issueCertificate({ commonName: 'long', validityDays: 40 * 365, ca: true }).cert).validTo).getUTCFullYear()).toBeGreaterThanOrEqual(2060);
});

test('mutual TLS with these certificates: the server trusts the client CA, the client pins the server certificate', async () => {
  const clientCa = issueCertificate({ commonName: 'push CA', validityDays: 10, ca: true });
  const client = issueCertificate({ commonName: 'airoute-operator', validityDays: 1, usage: ['client'], issuer: clientCa });
  const server = issueCertificate({ commonName: 'airoute-sidecar', validityDays: 1, usage: ['server'] });
  const srv = createTlsServer({ key: server.key, cert: server.cert, ca: clientCa.cert, requestCert: true, rejectUnauthorized: true }, (s) => s.end(String(s.getPeerCertificate().subject.CN)));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const got = await new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, key: client.key, cert: client.cert, ca: server.cert, checkServerIdentity: () => undefined }, () => undefined);
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    expect(got).toBe('airoute-operator');
  } finally {
    srv.close();
  }
});
