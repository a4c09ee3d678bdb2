// The operator's own HTTP port (--metrics-addr), an express router: Prometheus metrics, liveness,
// and readiness (every replica serves the webhook, so a replica is ready once its caches synced).
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { OperatorMetrics } from './metrics.ts';

export function operatorApp(o: { metrics: OperatorMetrics; ready: () => boolean; logger: Logger }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const router = express.Router();
  router.get('/metrics', async (_req, res) => {
    const body = await o.metrics.registry.metrics();
    res.type(o.metrics.registry.contentType).send(body);
  });
  router.get('/healthz', (_req, res) => void res.type('text/plain').send('ok'));
  router.get('/readyz', (_req, res) => {
    const ready = o.ready();
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok' : 'caches not synced');
  });
  app.use(router);
  app.use((_req, res) => void res.status(404).type('text/plain').send('not found'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    o.logger.error({ err: (err as Error).message }, 'operator HTTP request failed');
    res.status(500).type('text/plain').send('internal error');
  });
  return app;
}
