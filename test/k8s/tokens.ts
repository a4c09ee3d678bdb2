// ServiceAccount tokens as the API server issues and reviews them, for the stand-in: TokenRequest
// (what the kubelet asks for a pod's projected token: audiences, expiry, bound to the pod) and
// TokenReview (what the operator asks to learn whose token a sidecar showed). A bound token is
// valid while its pod exists with the same uid; the review answers the pod's name and uid in
// user.extra, as authentication.kubernetes.io/pod-name and /pod-uid, the ServiceAccount as
// system:serviceaccount:<namespace>:<name>, and the audiences it shares with the request.
import { randomBytes, randomUUID } from 'node:crypto';

export interface IssuedToken {
  namespace: string;
  serviceAccount: string;
  audiences: string[];
  expiresAt: number;
  pod?: { name: string; uid: string };
}

export interface ReviewStatus {
  authenticated: boolean;
  error?: string;
  audiences?: string[];
  user?: { username: string; uid: string; groups: string[]; extra: Record<string, string[]> };
}

export class TokenAuthority {
  private readonly issued = new Map<string, IssuedToken & { jti: string }>();
  private readonly serviceAccountUids = new Map<string, string>();

  issue(t: IssuedToken): string {
    // Opaque here (the real one is a signed JWT): only this authority can tell what it says.
    const token = `stand-in.${randomBytes(24).toString('base64url')}`;
    this.issued.set(token, { ...t, jti: randomUUID() });
    return token;
  }

  /** `podUid(namespace, name)`: the uid of the pod as it exists now, if it does. */
  review(token: string, audiences: string[] | undefined, podUid: (namespace: string, name: string) => string | undefined, now = Date.now()): ReviewStatus {
    const t = this.issued.get(token);
    const fail = (error: string): ReviewStatus => ({ authenticated: false, error });
    if (!t) return fail('[invalid bearer token, token lookup failed]');
    if (t.expiresAt <= now) return fail('[invalid bearer token, service account token has expired]');
    if (t.pod && podUid(t.namespace, t.pod.name) !== t.pod.uid)
      return fail(`[invalid bearer token, service account token has been invalidated: pod "${t.pod.name}" not found or its uid changed]`);
    const wanted = audiences?.length ? audiences : ['https://kubernetes.default.svc.cluster.local'];
    const shared = wanted.filter((a) => t.audiences.includes(a));
    if (!shared.length) return fail(`[invalid bearer token, token audiences ${JSON.stringify(t.audiences)} is invalid for the target audiences ${JSON.stringify(wanted)}]`);
    const saKey = `${t.namespace}/${t.serviceAccount}`;
    if (!this.serviceAccountUids.has(saKey)) this.serviceAccountUids.set(saKey, randomUUID());
    return {
      authenticated: true,
      audiences: shared,
      user: {
        username: `system:serviceaccount:${t.namespace}:${t.serviceAccount}`,
        uid: this.serviceAccountUids.get(saKey)!,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${t.namespace}`, 'system:authenticated'],
        extra: {
          'authentication.kubernetes.io/credential-id': [`JTI=${t.jti}`],
          ...(t.pod ? { 'authentication.kubernetes.io/pod-name': [t.pod.name], 'authentication.kubernetes.io/pod-uid': [t.pod.uid] } : {}),
        },
      },
    };
  }
}
