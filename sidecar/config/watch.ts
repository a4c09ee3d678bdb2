// Starts and keeps a sidecar on the config snapshot its pod has mounted, so the operator's
// availability decides only how fast changes arrive, not whether a pod can start.
//
// The file is the operator's snapshot for this pod's AIRoute (api/v1alpha1/snapshot.ts), in a
// ConfigMap volume; the Secrets it references are mounted under `secretsDir/<secret>/<key>`. The
// kubelet updates both by swapping a symlink, so the file is polled (one stat per interval; read
// only when it changed). A snapshot is applied only when its version is above the running one:
// the push is the fast path, and a push of the same version that got here first wins (409-like,
// silently). Versions only go up on both paths, so the two never fight.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { resolveSecretRefs, type SecretRef } from '../../api/v1alpha1/snapshot.ts';
import { formatIssue, validatePush } from '../../api/v1alpha1/validate.ts';
import type { Sidecar } from '../sidecar.ts';
import { compileConfig, envSecrets, type SecretResolver } from './runtime.ts';

export const DEFAULT_SECRETS_DIR = '/var/run/airoute/secrets';

export interface SnapshotOptions {
  file: string;
  secretsDir?: string;
  /** How often the file is checked for a change (default 2 s). */
  intervalMs?: number;
  resolveSecrets?: SecretResolver;
  logger: Logger;
}

export type SnapshotOutcome = 'applied' | 'unchanged' | 'stale' | 'missing' | 'invalid';

export class SnapshotWatcher {
  private readonly sc: Sidecar;
  private readonly o: SnapshotOptions;
  private stamp = '';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SnapshotOutcome> | undefined;

  constructor(sc: Sidecar, o: SnapshotOptions) {
    this.sc = sc;
    this.o = o;
  }

  /** Reads the file if it changed since the last look, and applies it if it is newer. */
  check(): Promise<SnapshotOutcome> {
    // One look at a time: a slow read and the next tick must not both apply.
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  private async look(): Promise<SnapshotOutcome> {
    let stamp: string;
    try {
      const s = await stat(this.o.file);
      stamp = `${s.ino}/${s.mtimeMs}/${s.size}`;
    } catch {
      this.stamp = '';
      return 'missing';
    }
    if (stamp === this.stamp) return 'unchanged';
    this.stamp = stamp;
    let doc: { version?: unknown; config?: unknown; source?: unknown };
    try {
      doc = JSON.parse(await readFile(this.o.file, 'utf8')) as typeof doc;
    } catch (err) {
      this.o.logger.warn({ file: this.o.file, err: (err as Error).message }, 'config snapshot is not readable JSON; waiting for a push');
      return 'invalid';
    }
    const dir = this.o.secretsDir ?? DEFAULT_SECRETS_DIR;
    const values = new Map<string, string | undefined>();
    const wanted: SecretRef[] = [];
    resolveSecretRefs(doc.config, (r) => (wanted.push(r), undefined));
    for (const r of wanted) values.set(`${r.name}/${r.key}`, await readFile(join(dir, r.name, r.key), 'utf8').catch(() => undefined));
    const { config, missing } = resolveSecretRefs(doc.config, (r) => values.get(`${r.name}/${r.key}`));
    if (missing.length) {
      this.o.logger.warn({ file: this.o.file, missing: missing.map((m) => `${m.name}/${m.key}`) }, 'config snapshot references Secrets that are not mounted; waiting for a push');
      return 'invalid';
    }
    const v = validatePush({ version: doc.version, config, ...(doc.source ? { source: doc.source } : {}) });
    if (!v.ok) {
      this.o.logger.warn({ file: this.o.file, issues: v.issues.map(formatIssue).slice(0, 5) }, 'config snapshot is invalid; waiting for a push');
      return 'invalid';
    }
    // From here to the swap nothing awaits, so a push cannot slip in between check and swap.
    const current = this.sc.config;
    if (current && v.value.version <= current.version) return 'stale';
    const c = compileConfig(v.value.config, v.value.version, this.o.resolveSecrets ?? envSecrets());
    if (!c.ok) {
      this.o.logger.warn({ file: this.o.file, issues: c.issues.map(formatIssue).slice(0, 5) }, 'config snapshot does not compile; waiting for a push');
      return 'invalid';
    }
    const src = v.value.source;
    this.sc.swap(src ? { ...c.config, origin: `${src.namespace}/${src.name}` } : c.config);
    this.sc.logger.info({ version: c.config.version, hash: c.config.hash, from: 'snapshot' }, 'config applied');
    return 'applied';
  }

  start(): void {
    this.timer = setInterval(() => void this.check().catch((err: unknown) => this.o.logger.error({ err: (err as Error).message }, 'config snapshot check failed')), this.o.intervalMs ?? 2000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
