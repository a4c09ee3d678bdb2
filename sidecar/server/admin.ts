// The admin port, an express router with its middleware in one place: health, readiness, the
// running config's version/hash, the authenticated config push, and Prometheus metrics. Separate
// from the data port so it can bind the pod IP (for the operator and the kubelet's probes) while
// app traffic stays on loopback.
//
// Middleware, in order: who may push (pushAuth: the bearer token of --admin-token-file, or the
// operator's client certificate when the port speaks TLS), then the body limit (MAX_CONFIG_BYTES,
// read raw so the answer is this port's own error shape), then the handler; every error ends in
// one error handler that answers {"error": {code, message}}.
import express, { type NextFunction, type Request, type Response } from 'express';
import { AirouteError, type ErrorCode } from '../errors.ts';
import { formatIssue, validatePush, type ConfigIssue } from '../../api/v1alpha1/validate.ts';
import { compileConfig, envSecrets, type SecretResolver } from '../config/runtime.ts';
import type { Sidecar } from '../sidecar.ts';
import { parseJsonObject } from '../net/body.ts';
import { TokenFile } from './admin-token.ts';

export { TokenFile };

/** A push document is the config with keys inline: bounded well above any real AIRoute's. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export type PushOutcome = 'applied' | 'stale' | 'invalid' | 'unauthorized' | 'disabled';

export interface AdminOptions {
  tokenFile?: string;
  /** Decides whether this request may push (replaces the token check when set, e.g. mTLS). */
  pushAuth?: (req: Request) => Promise<PushAuthResult>;
  /** Prometheus exposition; absent until metrics are wired. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /**
   * Why the sidecar is degraded but still serving (its journal store is unreachable: sync traffic
   * flows, async submissions get 503). /readyz stays 200 and says so: the sidecar shares its
   * pod's readiness, and failing it would pull the app out of its Service for an outage that
   * does not stop sync calls. Alert on airoute_journal_store_up instead.
   */
  degradedReasons?: () => string[];
  /** True once SIGTERM started the drain: readiness fails so the pod leaves its Services. */
  draining?: () => boolean;
  resolveSecrets?: SecretResolver;
  onPush?: (outcome: PushOutcome) => void;
  /** More routes on this port (the identity proof for the operator). */
  extend?: (router: express.Router) => void;
  onInternalError?: (err: unknown) => void;
}

export type PushAuthResult = { ok: true } | { ok: false; status: 401 | 403; code: ErrorCode; message: string };

/** An admin-port failure: the admin API's own `{error: {code, message}}` shape, with extra top-level fields (the running version, the issues). */
const adminError = (status: number, code: ErrorCode, message: string, extra: Record<string, unknown> = {}) => new AirouteError(code, status, message, { extra });

const rejected = (issues: ConfigIssue[]) => adminError(422, 'invalid_config', issues.map(formatIssue).join('; '), { issues });

function tokenAuth(tokenFile: string | undefined): (req: Request) => Promise<PushAuthResult> {
  const token = tokenFile ? new TokenFile(tokenFile) : undefined;
  return async (req) => {
    if (!token || !(await token.configured())) return { ok: false, status: 403, code: 'push_disabled', message: 'config push is disabled: no admin token is configured' };
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !(await token.verify(m[1]!.trim()))) return { ok: false, status: 401, code: 'unauthorized', message: 'missing or invalid bearer token' };
    return { ok: true };
  };
}

export function adminServer(sc: Sidecar, opts: AdminOptions = {}): express.Express {
  const resolve = opts.resolveSecrets ?? envSecrets();
  const outcome = opts.onPush ?? (() => undefined);
  const pushAuth = opts.pushAuth ?? tokenAuth(opts.tokenFile);
  // Pushes are serialised so two concurrent versions cannot both pass the staleness check.
  let pushing = Promise.resolve();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const router = express.Router();

  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));

  router.get('/readyz', (_req, res) => {
    if (opts.draining?.()) return void res.status(503).json({ status: 'draining', reasons: ['the sidecar is shutting down'] });
    if (!sc.config) return void res.status(503).json({ status: 'not ready', reasons: ['no configuration loaded'] });
    const degraded = opts.degradedReasons?.() ?? [];
    // Open circuits do not make the sidecar unready (other routes and models still serve); listed per (backend, model).
    const circuits = sc.resilience.notClosed();
    res.json(degraded.length ? { status: 'degraded', version: sc.config.version, reasons: degraded, circuits } : { status: 'ready', version: sc.config.version, circuits });
  });

  router.get('/config', (_req, res) => void res.json({ version: sc.config?.version ?? 0, hash: sc.config?.hash ?? null }));

  const authorize = async (req: Request, _res: Response, next: NextFunction) => {
    const a = await pushAuth(req);
    if (!a.ok) {
      outcome(a.status === 403 ? 'disabled' : 'unauthorized');
      throw adminError(a.status, a.code, a.message);
    }
    next();
  };
  // Raw, so an oversized or unparsable body is refused in this port's error shape.
  const raw = express.raw({ type: () => true, limit: MAX_CONFIG_BYTES });
  const body = (req: Request, res: Response, next: NextFunction) =>
    raw(req, res, (err?: unknown) => {
      if (err) outcome('invalid');
      next(err);
    });

  router.put('/config', authorize, body, async (req, res) => {
    let doc: unknown;
    try {
      doc = parseJsonObject(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    } catch (err) {
      outcome('invalid');
      throw adminError(400, 'invalid_body', (err as Error).message);
    }
    const v = validatePush(doc);
    if (!v.ok) {
      outcome('invalid');
      throw rejected(v.issues);
    }
    const run = pushing.then(() => {
      const current = sc.config;
      if (current && v.value.version <= current.version) {
        outcome('stale');
        throw adminError(409, 'stale_version', `version ${v.value.version} is not newer than the running version ${current.version}`, { version: current.version, hash: current.hash });
      }
      const c = compileConfig(v.value.config, v.value.version, resolve);
      if (!c.ok) {
        outcome('invalid');
        throw rejected(c.issues.map((i) => ({ ...i, path: `config.${i.path}` })));
      }
      const src = v.value.source;
      sc.swap(src ? { ...c.config, origin: `${src.namespace}/${src.name}` } : c.config);
      outcome('applied');
      for (const note of c.config.notes) sc.logger.warn({ version: c.config.version }, note);
      sc.logger.info({ version: c.config.version, hash: c.config.hash }, 'config applied');
      res.json({ version: c.config.version, hash: c.config.hash });
    });
    pushing = run.catch(() => undefined);
    await run;
  });

  router.get('/metrics', async (_req, res, next) => {
    if (!opts.metrics) return next();
    const m = await opts.metrics();
    res.type(m.contentType).send(m.body);
  });

  opts.extend?.(router);
  app.use(router);

  app.use((req, _res, next) => next(adminError(404, 'not_found', `no such endpoint: ${req.method} ${req.path}`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    // body-parser's own errors: too large (413) and the like.
    const ae =
      err instanceof AirouteError
        ? err
        : typeof e.status === 'number' && e.status < 500
          ? adminError(e.status, e.type === 'entity.too.large' ? 'body_too_large' : 'invalid_body', e.message ?? 'bad request')
          : undefined;
    if (!ae) opts.onInternalError?.(err);
    const out = ae ?? adminError(500, 'internal', 'internal error');
    if (res.headersSent) return void res.end();
    res.status(out.status).json({ error: { code: out.code, message: out.message }, ...out.details.extra });
  });
  return app;
}
