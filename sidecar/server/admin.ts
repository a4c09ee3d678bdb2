// The admin port: health, readiness, the running config's version/hash, authenticated config
// push from the operator, and Prometheus metrics. Separate from the data port so it can bind the
// pod IP (for the operator) while app traffic stays on loopback.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatIssue, validatePush, type ConfigIssue } from '../../api/v1alpha1/validate.ts';
import { compileConfig, envSecrets, type SecretResolver } from '../config/runtime.ts';
import type { Sidecar } from '../sidecar.ts';
import { parseJsonObject, readBody } from '../net/body.ts';
import { sendJson } from './http.ts';

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export interface AdminOptions {
  tokenFile?: string;
  /** Prometheus exposition; absent until metrics are wired. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /**
   * Why the sidecar is degraded but still serving (its journal store is unreachable: sync traffic
   * flows, async submissions get 503). /readyz stays 200 and says so: the sidecar shares its
   * pod's readiness, and failing it would pull the app out of its Service for an outage that
   * does not stop sync calls. Alert on airoute_journal_store_up instead.
   */
  degradedReasons?: () => string[];
  resolveSecrets?: SecretResolver;
  onPush?: (outcome: 'applied' | 'stale' | 'invalid' | 'unauthorized' | 'disabled') => void;
}

/** Reads the bearer token from a file, again whenever the file changes (rotation needs no restart). */
export class TokenFile {
  private readonly path: string;
  private mtimeMs = -1;
  private digest: Buffer | undefined;

  constructor(path: string) {
    this.path = path;
  }

  private async current(): Promise<Buffer | undefined> {
    try {
      const s = await stat(this.path);
      if (s.mtimeMs !== this.mtimeMs) {
        const token = (await readFile(this.path, 'utf8')).trim();
        this.digest = token ? sha256(token) : undefined;
        this.mtimeMs = s.mtimeMs;
      }
    } catch {
      this.digest = undefined;
      this.mtimeMs = -1;
    }
    return this.digest;
  }

  /** Constant-time comparison of digests, so neither the token nor its length leaks through timing. */
  async verify(presented: string): Promise<boolean> {
    const want = await this.current();
    return want !== undefined && timingSafeEqual(want, sha256(presented));
  }

  async configured(): Promise<boolean> {
    return (await this.current()) !== undefined;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

const adminError = (res: ServerResponse, status: number, code: string, message: string, extra: Record<string, unknown> = {}) =>
  sendJson(res, status, { error: { code, message }, ...extra });

export function adminServer(sc: Sidecar, opts: AdminOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const token = opts.tokenFile ? new TokenFile(opts.tokenFile) : undefined;
  const resolve = opts.resolveSecrets ?? envSecrets();
  let pushing = Promise.resolve();

  async function putConfig(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const outcome = opts.onPush ?? (() => undefined);
    if (!token || !(await token.configured())) {
      outcome('disabled');
      return adminError(res, 403, 'push_disabled', 'config push is disabled: no admin token is configured');
    }
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (!m || !(await token.verify(m[1]!.trim()))) {
      outcome('unauthorized');
      return adminError(res, 401, 'unauthorized', 'missing or invalid bearer token');
    }
    let doc: unknown;
    try {
      doc = parseJsonObject(await readBody(req, MAX_CONFIG_BYTES));
    } catch (err) {
      outcome('invalid');
      return adminError(res, (err as { status?: number }).status ?? 400, 'invalid_body', (err as Error).message);
    }
    const v = validatePush(doc);
    if (!v.ok) {
      outcome('invalid');
      return rejected(res, v.issues);
    }
    // Pushes are serialised so two concurrent versions cannot both pass the staleness check.
    const run = pushing.then(() => {
      const current = sc.config;
      if (current && v.value.version <= current.version) {
        outcome('stale');
        return adminError(res, 409, 'stale_version', `version ${v.value.version} is not newer than the running version ${current.version}`, {
          version: current.version,
          hash: current.hash,
        });
      }
      const c = compileConfig(v.value.config, v.value.version, resolve);
      if (!c.ok) {
        outcome('invalid');
        return rejected(res, c.issues.map((i) => ({ ...i, path: `config.${i.path}` })));
      }
      const src = v.value.source;
      sc.swap(src ? { ...c.config, origin: `${src.namespace}/${src.name}` } : c.config);
      outcome('applied');
      for (const note of c.config.notes) sc.logger.warn({ version: c.config.version }, note);
      sc.logger.info({ version: c.config.version, hash: c.config.hash }, 'config applied');
      return sendJson(res, 200, { version: c.config.version, hash: c.config.hash });
    });
    pushing = run.catch(() => undefined);
    await run;
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (path === '/readyz' && req.method === 'GET') {
      if (!sc.config) return sendJson(res, 503, { status: 'not ready', reasons: ['no configuration loaded'] });
      const degraded = opts.degradedReasons?.() ?? [];
      // Open circuits do not make the sidecar unready (other routes and models still serve); listed per (backend, model).
      const circuits = sc.resilience.notClosed();
      return degraded.length
        ? sendJson(res, 200, { status: 'degraded', version: sc.config.version, reasons: degraded, circuits })
        : sendJson(res, 200, { status: 'ready', version: sc.config.version, circuits });
    }
    if (path === '/config' && req.method === 'GET') return sendJson(res, 200, { version: sc.config?.version ?? 0, hash: sc.config?.hash ?? null });
    if (path === '/config' && req.method === 'PUT') return putConfig(req, res);
    if (path === '/metrics' && req.method === 'GET' && opts.metrics) {
      const m = await opts.metrics();
      res.writeHead(200, { 'content-type': m.contentType });
      res.end(m.body);
      return;
    }
    return adminError(res, 404, 'not_found', `no such endpoint: ${req.method} ${path}`);
  }

  return (req, res) => {
    route(req, res).catch((err: unknown) => {
      sc.logger.error({ err: (err as Error).message }, 'admin request failed');
      if (!res.headersSent) adminError(res, 500, 'internal', 'internal error');
    });
  };
}

function rejected(res: ServerResponse, issues: ConfigIssue[]): void {
  adminError(res, 422, 'invalid_config', issues.map(formatIssue).join('; '), { issues });
}
