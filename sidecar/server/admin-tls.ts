// The admin port as an injected sidecar serves it: TLS, and config pushes only from the operator.
//
// Who may push: the operator, proven by its client certificate (mutual TLS), issued by the push CA
// the webhook put in the pod (AIROUTE_PUSH_CA, public). Probes and scrapes need no certificate:
// the port asks for one but does not insist, and only PUT /config and GET /identity require it.
//
// Which pod this is: GET /identity answers the pod's projected ServiceAccount token (audience
// `airoute-operator`, bound to this pod by the kubelet), to the operator only. The operator has it
// reviewed (TokenReview: pod name and uid) and then pins this process's certificate, so it sends
// keys only to the sidecar of the pod it means. A relay at the pod's address cannot get the token
// (it cannot present the operator's certificate to the real sidecar), and a pod elsewhere holds a
// token for its own pod, not this one. The certificate is made at start and lives only in memory:
// a restarted sidecar is a new one, proven again.
import { readFile } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import type { Request, Router } from 'express';
import { AirouteError } from '../errors.ts';
import type { PushAuthResult } from './admin.ts';
import { DEFAULT_IDENTITY_TOKEN_FILE, OPERATOR_COMMON_NAME, SIDECAR_TLS_NAME } from '../../api/v1alpha1/push.ts';
import { issueCertificate } from '../tls/x509.ts';

export interface PushTrustOptions {
  /** PEM of the CA that issues the operator's client certificates. */
  pushCa: string;
  identityTokenFile?: string;
}

export interface PushTrust {
  tls: { key: string; cert: string; ca: string; requestCert: true; rejectUnauthorized: false; minVersion: 'TLSv1.2' };
  /** Of this process's certificate: what the operator pins. */
  fingerprint256: string;
  pushAuth: (req: Request) => Promise<PushAuthResult>;
  extend: (router: Router) => void;
}

/** The client is the operator: a certificate chained to the push CA, with the operator's name. */
function fromOperator(req: Request): PushAuthResult {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return { ok: false, status: 401, code: 'unauthorized', message: 'config pushes need TLS with the operator’s client certificate' };
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.subject) return { ok: false, status: 401, code: 'unauthorized', message: 'no client certificate: only the operator may push' };
  if (!socket.authorized) return { ok: false, status: 401, code: 'unauthorized', message: `client certificate not issued by the push CA (${socket.authorizationError})` };
  if (peer.subject.CN !== OPERATOR_COMMON_NAME) return { ok: false, status: 403, code: 'forbidden', message: 'client certificate is not the operator’s' };
  return { ok: true };
}

export function pushTrust(o: PushTrustOptions): PushTrust {
  const self = issueCertificate({ commonName: SIDECAR_TLS_NAME, validityDays: 366, usage: ['server'], altNames: [SIDECAR_TLS_NAME] });
  const tokenFile = o.identityTokenFile ?? DEFAULT_IDENTITY_TOKEN_FILE;
  return {
    tls: { key: self.key, cert: self.cert, ca: o.pushCa, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    fingerprint256: self.fingerprint256,
    pushAuth: async (req) => fromOperator(req),
    extend: (router) => {
      router.get('/identity', async (req, res) => {
        const a = fromOperator(req);
        if (!a.ok) throw new AirouteError(a.code, a.status, a.message);
        // Read each time: the kubelet replaces the projected token before it expires.
        const token = (await readFile(tokenFile, 'utf8').catch(() => '')).trim();
        if (!token) throw new AirouteError('identity_unavailable', 503, 'no ServiceAccount token is mounted for this pod');
        res.set('cache-control', 'no-store').json({ token });
      });
    },
  };
}
