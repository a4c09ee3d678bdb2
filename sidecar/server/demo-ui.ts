// `airoute sidecar --demo-ui`: the demo page at /airoute/demo, its ES modules, and the webhook
// receiver it shows the async pattern with. Mounted only with the flag, and reached only by
// paths under /airoute/demo, so it costs the data path nothing otherwise.
//
// Modules are served from the repository's layout under /airoute/demo/src/, so the page's
// relative imports of client/ resolve unchanged: from source with their types stripped (Node's
// own stripper), or from the compiled dist/ when the sidecar runs from a build. Only the two
// directories below are served, and only file names of lowercase letters and dashes.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stripTypeScriptTypes } from 'node:module';
import { DEMO_ROUTES, DEMO_WEBHOOK_PATH } from '../config/demo.ts';
import type { Sidecar } from '../sidecar.ts';
import { renderPage, type PageInfo } from './demo/page.ts';
import { WebhookReceiver } from './demo/receiver.ts';

/** The repository root (from source) or dist/ (from a build). */
const ROOT = new URL('../../', import.meta.url);
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXT = FROM_SOURCE ? '.ts' : '.js';
const MODULE = /^\/airoute\/demo\/src\/(client|sidecar\/server\/demo\/page)\/([a-z-]+)\.(?:ts|js)$/;
const WEBHOOK = new RegExp(`^${DEMO_WEBHOOK_PATH}(?:/([^/]+))?$`);
/** How long a page's GET for a webhook may wait for it to arrive. */
const MAX_WAIT_MS = 30_000;

/** A malformed percent-escape is a path nobody serves, not an error. */
function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

const STORIES: Record<string, string> = Object.fromEntries(DEMO_ROUTES.map((r) => [r.model, r.shows]));

export function demoUi(sc: Sidecar): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> {
  const receiver = new WebhookReceiver(() => sc.config?.webhooks.secret);
  /** The receiver's URL, when the running config both allow-lists it and signs webhooks. */
  const webhookUrl = (): string | null => {
    const hooks = sc.config?.webhooks;
    return (hooks?.secret && hooks.allow.find((entry) => URL.parse(entry)?.pathname === DEMO_WEBHOOK_PATH)) || null;
  };

  return async (req, res, path) => {
    const hook = WEBHOOK.exec(path);
    if (hook) {
      if (req.method === 'POST' && !hook[1]) await receiver.receive(req, res);
      else if (req.method === 'GET' && hook[1]) {
        const id = safeDecode(hook[1]);
        if (id === undefined) return false;
        const wait = Number(URL.parse(req.url ?? '/', 'http://localhost')?.searchParams.get('wait') ?? 0);
        await receiver.serve(res, id, Number.isFinite(wait) ? Math.min(Math.max(0, wait), MAX_WAIT_MS) : 0);
      } else return false;
      return true;
    }
    if (req.method !== 'GET') return false;
    if (path === '/airoute/demo' || path === '/airoute/demo/') {
      const info: PageInfo = { routes: STORIES, webhookUrl: webhookUrl() };
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(renderPage(info, EXT));
      return true;
    }
    const m = MODULE.exec(path);
    if (!m) return false;
    let code: string;
    try {
      code = await readFile(new URL(`${m[1]}/${m[2]}${EXT}`, ROOT), 'utf8');
    } catch {
      return false;
    }
    if (FROM_SOURCE) code = stripTypeScriptTypes(code);
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
    res.end(code);
    return true;
  };
}
