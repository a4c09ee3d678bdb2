// HTTPS client for the sidecar admin port (DESIGN.md, Admin port), as the operator uses it:
//  - verify(): proves which pod a sidecar belongs to before anything is sent to it. Over a fresh
//    TLS connection (the operator's client certificate presented), GET /identity answers the pod's
//    projected ServiceAccount token; a TokenReview must say it is bound to this pod's name and uid
//    (and the airoute-operator audience). The certificate the sidecar presented on that connection
//    is then pinned: every later request trusts that certificate and nothing else.
//  - observe(): GET /config (the running version), push(): PUT /config, both pinned.
// Answers are classified, never thrown, so the pusher can apply per-pod policy (backoff,
// rejection memory) without try/catch around every call.
import { Agent, request, type RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { IDENTITY_AUDIENCE, SIDECAR_TLS_NAME } from '../../api/v1alpha1/push.ts';

export type PushAnswer =
  | { kind: 'applied'; version: number; hash: string | null } // 200
  | { kind: 'stale'; version: number; hash: string | null } // 409: it already runs this version or newer
  | { kind: 'rejected'; message: string } // 422: invalid, with reasons
  | { kind: 'unauthorized'; status: 401 | 403; message: string }
  | { kind: 'failed'; message: string }; // transport error, timeout, 5xx, anything unexpected

export type ObserveAnswer = { kind: 'running'; version: number; hash: string | null } | { kind: 'failed'; message: string };

/** The pod a sidecar must prove it belongs to. */
export interface ExpectedPod {
  namespace: string;
  name: string;
  uid: string;
}

/** `unreachable`: no answer at all (nothing was proven either way); `failed`: an answer that
 *  does not prove this pod. */
export type VerifyAnswer = { kind: 'verified'; pin: string } | { kind: 'unreachable'; message: string } | { kind: 'failed'; message: string };

export interface TokenReviewed {
  authenticated: boolean;
  error?: string;
  username?: string;
  audiences?: string[];
  extra?: Record<string, string[]>;
}

export interface SidecarClientOptions {
  /** The operator's client certificate (current one on every call: it is renewed). */
  clientCert: () => { cert: string; key: string };
  /** TokenReview, with the airoute-operator audience. */
  review: (token: string) => Promise<TokenReviewed>;
  timeoutMs?: number;
}

interface ConfigAnswer {
  version?: unknown;
  hash?: unknown;
  token?: unknown;
  error?: { message?: unknown };
}

const pemOf = (der: Buffer) => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
const MAX_ANSWER = 64 * 1024;

export class SidecarClient {
  private readonly o: SidecarClientOptions;
  private readonly timeoutMs: number;
  // Kept-alive connections, pooled per pinned certificate (the agent keys its pools by the TLS
  // options); a few per pod, pushes to one pod are serialised anyway.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2, maxFreeSockets: 2, timeout: 30_000 });

  constructor(o: SidecarClientOptions) {
    this.o = o;
    this.timeoutMs = o.timeoutMs ?? 5000;
  }

  private call(method: 'GET' | 'PUT', url: string, tls: Pick<RequestOptions, 'ca' | 'rejectUnauthorized' | 'agent' | 'servername'>, body?: string): Promise<{ status: number; json: ConfigAnswer | undefined; peer?: string } | { error: string }> {
    const u = new URL(url);
    const client = this.o.clientCert();
    return new Promise((resolve) => {
      const req = request(
        {
          method,
          host: u.hostname.replace(/^\[|\]$/g, ''),
          port: u.port,
          path: u.pathname,
          cert: client.cert,
          key: client.key,
          minVersion: 'TLSv1.2',
          headers: body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
          timeout: this.timeoutMs,
          ...tls,
        },
        (res) => {
          const peerDer = (res.socket as TLSSocket).getPeerCertificate?.()?.raw;
          let size = 0;
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER) return void res.destroy(new Error('answer too large'));
            chunks.push(c);
          });
          res.on('end', () => {
            let json: ConfigAnswer | undefined;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ConfigAnswer;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, json, ...(peerDer ? { peer: pemOf(peerDer) } : {}) });
          });
          res.on('error', (err: Error) => resolve({ error: err.message }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      req.end(body);
    });
  }

  /** Only the pinned certificate is trusted (the name every sidecar certificate carries is checked
   *  too, and keeps the agent's pools keyed by plain options, so connections are kept alive). */
  private pinned(pin: string) {
    return { ca: pin, servername: SIDECAR_TLS_NAME, rejectUnauthorized: true, agent: this.agent };
  }

  async verify(address: string, pod: ExpectedPod): Promise<VerifyAnswer> {
    // A fresh connection whose certificate is not yet known: it is trusted only once the token
    // that came over it names the pod.
    const r = await this.call('GET', `${address}/identity`, { rejectUnauthorized: false, agent: false });
    if ('error' in r) return { kind: 'unreachable', message: r.error };
    if (r.status !== 200 || typeof r.json?.token !== 'string' || !r.peer) return { kind: 'failed', message: `GET /identity answered ${r.status}${typeof r.json?.error?.message === 'string' ? `: ${r.json.error.message}` : ''}` };
    let review: TokenReviewed;
    try {
      review = await this.o.review(r.json.token);
    } catch (err) {
      return { kind: 'failed', message: `TokenReview failed: ${(err as Error).message}` };
    }
    const one = (k: string) => review.extra?.[`authentication.kubernetes.io/${k}`]?.[0];
    if (!review.authenticated) return { kind: 'failed', message: `identity token not accepted by the API server${review.error ? `: ${review.error}` : ''}` };
    if (!review.audiences?.includes(IDENTITY_AUDIENCE)) return { kind: 'failed', message: `identity token is not for ${IDENTITY_AUDIENCE}` };
    if (!review.username?.startsWith(`system:serviceaccount:${pod.namespace}:`)) return { kind: 'failed', message: `identity token belongs to ${review.username ?? 'nobody'}, not to a ServiceAccount of namespace ${pod.namespace}` };
    if (one('pod-uid') !== pod.uid || one('pod-name') !== pod.name)
      return { kind: 'failed', message: `the sidecar at ${address} is pod ${one('pod-name') ?? '?'} (${one('pod-uid') ?? '?'}), not ${pod.name} (${pod.uid})` };
    return { kind: 'verified', pin: r.peer };
  }

  async observe(address: string, pin: string): Promise<ObserveAnswer> {
    const r = await this.call('GET', `${address}/config`, this.pinned(pin));
    if ('error' in r) return { kind: 'failed', message: r.error };
    if (r.status !== 200 || typeof r.json?.version !== 'number') return { kind: 'failed', message: `GET /config answered ${r.status}` };
    return { kind: 'running', version: r.json.version, hash: typeof r.json.hash === 'string' ? r.json.hash : null };
  }

  /** `body` is the serialised {version, config}: serialised once per version, not once per pod. */
  async push(address: string, pin: string, body: string): Promise<PushAnswer> {
    const r = await this.call('PUT', `${address}/config`, this.pinned(pin), body);
    if ('error' in r) return { kind: 'failed', message: r.error };
    const version = typeof r.json?.version === 'number' ? r.json.version : undefined;
    const hash = typeof r.json?.hash === 'string' ? r.json.hash : null;
    const message = typeof r.json?.error?.message === 'string' ? r.json.error.message : `HTTP ${r.status}`;
    if (r.status === 200 && version !== undefined) return { kind: 'applied', version, hash };
    if (r.status === 409 && version !== undefined) return { kind: 'stale', version, hash };
    if (r.status === 422) return { kind: 'rejected', message };
    if (r.status === 401 || r.status === 403) return { kind: 'unauthorized', status: r.status, message };
    return { kind: 'failed', message: `PUT /config answered ${r.status}: ${message}` };
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
