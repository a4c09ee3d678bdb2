// The data port's control endpoints as one express app: the async and events API under
// `/airoute/v1/requests/{id}` and, with --demo-ui, the demo page. Auth-free by design (loopback
// only, like the data endpoints); body limits and the error shape live here once.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AirouteError, asAirouteError } from '../errors.ts';
import type { Journal } from '../events/journal.ts';
import { resumeFrom, serveEventStream } from '../events/sse.ts';
import type { AsyncService } from '../requests/service.ts';
import { sendError, sendJson } from './http.ts';

/** A signed /complete body: the app's answer to a backend-in-the-loop request. */
export const MAX_COMPLETE_BODY = 1024 * 1024;

export interface ControlApiOptions {
  requests: AsyncService;
  journal: () => Journal;
  /** Serves the demo page under /airoute/demo (`--demo-ui`); answers false for paths it does not own. */
  demoUi?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;
  /** Told of a defect in a handler (it ends that request only). */
  onInternalError?: (err: unknown) => void;
}

const methodNotAllowed = (req: Request) => new AirouteError('method_not_allowed', 405, `${req.method} is not allowed on ${req.path}`);

/** Errors from express itself (a body over the limit, a malformed path) in the data plane's vocabulary. */
function fromExpress(err: unknown): AirouteError {
  if (err instanceof AirouteError) return err;
  const e = err as { status?: unknown; type?: unknown };
  if (e?.type === 'entity.too.large') return new AirouteError('body_too_large', 413, `request body exceeds the limit of ${MAX_COMPLETE_BODY} bytes`);
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return new AirouteError('invalid_request', 400, 'malformed request');
  return asAirouteError(err);
}

export function controlApi(opts: ControlApiOptions): express.Express {
  const { requests } = opts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const requestPath = '/airoute/v1/requests/:id';
  app
    .route(requestPath)
    .get(async (req, res) => sendJson(res, 200, await requests.status(req.params.id)))
    .all((req) => {
      throw methodNotAllowed(req);
    });
  app
    .route(`${requestPath}/cancel`)
    .post(async (req, res) => sendJson(res, 200, await requests.cancel(req.params.id)))
    .all((req) => {
      throw methodNotAllowed(req);
    });
  app
    .route(`${requestPath}/complete`)
    // The signature covers the exact bytes, so the body is kept raw (express.json would re-encode it).
    .post(express.raw({ type: () => true, limit: MAX_COMPLETE_BODY }), async (req, res) => {
      const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
      sendJson(res, 200, await requests.complete(req.params.id, raw, req.headers));
    })
    .all((req) => {
      throw methodNotAllowed(req);
    });
  app
    .route(`${requestPath}/events`)
    .get(async (req, res) => {
      const id = req.params.id;
      const after = resumeFrom(req, new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1 || req.url.length)));
      await requests.checkEvents(id, after);
      await serveEventStream(opts.journal(), id, after, res);
    })
    .all((req) => {
      throw methodNotAllowed(req);
    });

  const demoUi = opts.demoUi;
  if (demoUi)
    app.use('/airoute/demo', (req: Request, res: Response, next: NextFunction) => {
      demoUi(req, res, req.originalUrl.split('?')[0]!).then((took) => (took ? undefined : next()), next);
    });

  app.use((req: Request) => {
    throw new AirouteError('not_found', 404, `no such endpoint: ${req.method} ${req.path}`);
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = fromExpress(err);
    if (e.code === 'internal') opts.onInternalError?.(err);
    if (!res.headersSent) sendError(res, e, 'openai');
    else res.destroy();
  });
  return app;
}
