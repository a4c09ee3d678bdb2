// The admin token per namespace: a Secret the operator creates and the injected sidecar mounts as
// a file (--admin-token-file). Rotation keeps the old token as `previous` so pushes keep working
// while the kubelet catches the mounted file up (it syncs Secret volumes with a delay): the
// pusher tries `token` first and falls back to `previous` on 401.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage, statusCode } from '../log.ts';
import type { Informer } from '../kube/informer.ts';

export const TOKEN_SECRET = 'airoute-admin-token';
export const TOKEN_KEY = 'token';
export const PREVIOUS_KEY = 'previous';
export const ROTATED_AT = 'airoute.dev/rotated-at';
/** Set this annotation on the Secret (any value) to rotate now. */
export const ROTATE_NOW = 'airoute.dev/rotate';

export interface AdminToken {
  current?: string;
  previous?: string;
}

const newToken = () => randomBytes(32).toString('base64url');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8').trim() || undefined);

export interface AdminTokensOptions {
  core: CoreV1Api;
  secrets: Informer<V1Secret>;
  logger: Logger;
  /** Rotate a token older than this (0: only on request). */
  rotationIntervalMs: number;
  now?: () => number;
}

export class AdminTokens {
  private readonly o: AdminTokensOptions;
  private readonly now: () => number;
  /** What this replica wrote last, for the few seconds before its informer sees the write
   *  (resourceVersions are opaque, so "newer" is judged by time, not by comparing them). */
  private readonly written = new Map<string, { secret: V1Secret; at: number }>();

  constructor(o: AdminTokensOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  private secret(namespace: string): V1Secret | undefined {
    const cached = this.o.secrets.get(namespace, TOKEN_SECRET);
    const mine = this.written.get(namespace);
    if (mine && this.now() - mine.at < 10_000 && cached?.metadata?.resourceVersion !== mine.secret.metadata?.resourceVersion) return mine.secret;
    this.written.delete(namespace);
    return cached;
  }

  tokensFor(namespace: string): AdminToken {
    const s = this.secret(namespace);
    const current = unb64(s?.data?.[TOKEN_KEY]);
    const previous = unb64(s?.data?.[PREVIOUS_KEY]);
    return { ...(current ? { current } : {}), ...(previous ? { previous } : {}) };
  }

  /** Creates the namespace's token Secret if missing and rotates it when due. Idempotent. */
  async ensure(namespace: string): Promise<void> {
    const s = this.secret(namespace);
    if (!s || !s.data?.[TOKEN_KEY]) {
      if (s) return this.rotate(namespace, s);
      try {
        const created = await this.o.core.createNamespacedSecret({
          namespace,
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            type: 'Opaque',
            metadata: {
              name: TOKEN_SECRET,
              namespace,
              labels: { 'app.kubernetes.io/managed-by': 'airoute-operator', 'app.kubernetes.io/component': 'admin-token' },
              annotations: { [ROTATED_AT]: new Date(this.now()).toISOString() },
            },
            data: { [TOKEN_KEY]: b64(newToken()) },
          },
        });
        this.written.set(namespace, { secret: created, at: this.now() });
        this.o.logger.info({ namespace }, 'created admin token Secret');
      } catch (err) {
        if (statusCode(err) !== 409) throw new Error(`creating Secret ${namespace}/${TOKEN_SECRET}: ${errorMessage(err)}`);
      }
      return;
    }
    const rotatedAt = Date.parse(s.metadata?.annotations?.[ROTATED_AT] ?? '');
    const due = this.o.rotationIntervalMs > 0 && (!Number.isFinite(rotatedAt) || this.now() - rotatedAt >= this.o.rotationIntervalMs);
    if (due || s.metadata?.annotations?.[ROTATE_NOW] !== undefined) await this.rotate(namespace, s);
  }

  private async rotate(namespace: string, s: V1Secret): Promise<void> {
    const annotations: Record<string, string> = { ...(s.metadata?.annotations ?? {}), [ROTATED_AT]: new Date(this.now()).toISOString() };
    delete annotations[ROTATE_NOW];
    const data: Record<string, string> = { [TOKEN_KEY]: b64(newToken()) };
    if (s.data?.[TOKEN_KEY]) data[PREVIOUS_KEY] = s.data[TOKEN_KEY];
    try {
      const updated = await this.o.core.replaceNamespacedSecret({ namespace, name: TOKEN_SECRET, body: { ...s, metadata: { ...s.metadata, annotations }, data } });
      this.written.set(namespace, { secret: updated, at: this.now() });
      this.o.logger.info({ namespace }, 'rotated admin token');
    } catch (err) {
      // 409: another writer got there first; the next reconcile sees its result.
      if (statusCode(err) !== 409) throw new Error(`rotating Secret ${namespace}/${TOKEN_SECRET}: ${errorMessage(err)}`);
    }
  }
}
