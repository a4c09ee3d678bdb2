// X.509 certificates (ECDSA P-256, SHA-256) built with node:crypto and a few lines of DER, so no
// openssl binary and no dependency is needed: the sidecar's own admin-port certificate, and the
// operator's CAs (config push, webhook serving). Only what those need: a CA or a leaf, subject
// common name, DNS and IP subject alternative names, server/client extended key usage.
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

function tlv(tag: number, content: Buffer): Buffer {
  const len = content.length;
  const head =
    len < 0x80 ? Buffer.from([tag, len]) : len < 0x100 ? Buffer.from([tag, 0x81, len]) : len < 0x10000 ? Buffer.from([tag, 0x82, len >> 8, len & 0xff]) : Buffer.from([tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  return Buffer.concat([head, content]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer) => tlv(0x04, b);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A positive INTEGER (a leading 0 keeps the top bit from reading as a sign). */
const integer = (bytes: Buffer) => tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const ECDSA_SHA256 = () => seq(oid('1.2.840.10045.4.3.2'));
const ext = (id: string, critical: boolean, value: Buffer) => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

export interface CertificateRequest {
  commonName: string;
  /** Days from now (the certificate is also valid from a minute ago, against clock skew). */
  validityDays: number;
  ca?: boolean;
  /** DNS names and IP addresses for subjectAltName. */
  altNames?: string[];
  usage?: ('server' | 'client')[];
  /** Signed by this CA; self-signed without one. */
  issuer?: { cert: string; key: string };
}

export interface IssuedCertificate {
  /** PEM */
  cert: string;
  /** PKCS#8 PEM */
  key: string;
  notAfter: Date;
  /** SHA-256 of the DER, "AB:CD:..." as X509Certificate.fingerprint256 prints it. */
  fingerprint256: string;
}

const pem = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;

export function issueCertificate(r: CertificateRequest): IssuedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const signer: KeyObject = r.issuer ? createPrivateKey(r.issuer.key) : privateKey;
  const issuerCert = r.issuer ? new X509Certificate(r.issuer.cert) : undefined;
  const issuerName = issuerCert ? seq(...derSubject(issuerCert)) : name(r.commonName);
  const now = Date.now();
  const notAfter = new Date(now + r.validityDays * 86_400_000);
  const keyId = createHash('sha1').update(spki).digest();
  const extensions: Buffer[] = [
    ext('2.5.29.19', true, r.ca ? seq(bool(true)) : seq()),
    // keyUsage: digitalSignature, plus keyCertSign and cRLSign for a CA.
    ext('2.5.29.15', true, r.ca ? tlv(0x03, Buffer.from([1, 0x86])) : tlv(0x03, Buffer.from([7, 0x80]))),
    ext('2.5.29.14', false, octets(keyId)),
  ];
  if (issuerCert) {
    const issuerKeyId = createHash('sha1').update(issuerCert.publicKey.export({ type: 'spki', format: 'der' })).digest();
    extensions.push(ext('2.5.29.35', false, seq(tlv(0x80, issuerKeyId))));
  }
  if (r.usage?.length) extensions.push(ext('2.5.29.37', false, seq(...r.usage.map((u) => oid(u === 'server' ? '1.3.6.1.5.5.7.3.1' : '1.3.6.1.5.5.7.3.2')))));
  if (r.altNames?.length)
    extensions.push(
      ext(
        '2.5.29.17',
        false,
        seq(
          ...r.altNames.map((n) => {
            const v = isIP(n);
            if (v === 4) return tlv(0x87, Buffer.from(n.split('.').map(Number)));
            if (v === 6) return tlv(0x87, ipv6Bytes(n));
            return tlv(0x82, Buffer.from(n));
          }),
        ),
      ),
    );
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial()),
    ECDSA_SHA256(),
    issuerName,
    seq(time(new Date(now - 60_000)), time(notAfter)),
    name(r.commonName),
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const der = seq(tbs, ECDSA_SHA256(), tlv(0x03, Buffer.concat([Buffer.from([0]), sign('sha256', tbs, signer)])));
  const cert = pem('CERTIFICATE', der);
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, notAfter, fingerprint256: new X509Certificate(cert).fingerprint256 };
}

/** A positive serial in minimal DER: the first byte neither 0 (illegal padding) nor ≥ 0x80. */
function serial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

/** The issuer's subject, as the DER RDN sequence (only the CN is ever set here). */
function derSubject(c: X509Certificate): Buffer[] {
  const cn = /CN=([^\n]+)/.exec(c.subject)?.[1] ?? '';
  return [set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn))))];
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}
