// The config the sidecar runs with no file: the built-in demo backend under one plain model and
// four scripted to fail (sidecar/upstream/demo.ts plays the scripts), so every kind of recovery
// can be watched with no keys and no network.
import { randomBytes } from 'node:crypto';
import type { SidecarConfig } from '../../api/v1alpha1/config.ts';

/** What each demo route shows; the demo page and the README say the same. */
export const DEMO_ROUTES = [
  { model: 'demo', shows: 'a plain stream: one attempt, nothing fails' },
  { model: 'demo-flaky', shows: 'the stream is cut a third of the way in and resumed by prefill, with no token repeated' },
  { model: 'demo-rate-limited', shows: 'the first attempt gets 429 with Retry-After: 1; the retry waits that second, then succeeds' },
  { model: 'demo-down', shows: 'the primary refuses connections; the request falls back to another backend, which answers' },
  { model: 'demo-diverge', shows: 'the stream is cut; verify resume regenerates, meets a different answer, and stops explicitly' },
] as const;

/** Where the demo page receives completion webhooks (served by sidecar/server/demo-ui.ts). */
export const DEMO_WEBHOOK_PATH = '/airoute/demo/webhooks';

/** The receiver's URL on a data port bound to `host` (a wildcard address is reached on loopback). */
export function demoWebhookUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}${DEMO_WEBHOOK_PATH}`;
}

// Circuits and retry budgets are kept per deployment (backend x model), and a refused connection
// counts against the whole host (every model of the backend). A scripted failure gets a backend of
// its own all the same, so demo-down's refusals never touch the plain demo's host, and that
// backend's circuit is set never to open (a thousand consecutive failures, a 100 % failure rate
// over a hundred thousand requests), so a demo route plays out the same way however often, and
// however concurrently, it is asked. Real backends keep the defaults.
const SCRIPTED = { consecutiveFailures: 1000, failureRatePercent: 100, minimumRequests: 100000 };

/**
 * The demo config. With a `webhookReceiver` (the demo page's own URL, known once the data port
 * listens) it also allow-lists that receiver and signs webhooks with a secret made for this
 * process, so the async pattern can be shown end to end.
 */
export function demoConfig(opts: { webhookReceiver?: string } = {}): SidecarConfig {
  return {
    backends: [
      { name: 'demo', type: 'demo' },
      { name: 'demo-flaky', type: 'demo', circuit: SCRIPTED },
      { name: 'demo-rate-limited', type: 'demo', circuit: SCRIPTED },
      { name: 'demo-down-primary', type: 'demo', circuit: SCRIPTED },
      { name: 'demo-diverge', type: 'demo', circuit: SCRIPTED },
    ],
    routes: [
      { model: 'demo', backends: [{ backend: 'demo' }] },
      { model: 'demo-flaky', backends: [{ backend: 'demo-flaky' }], resume: 'prefill' },
      // Every request retries once: a budget below 100 % would refuse retries once traffic rises.
      { model: 'demo-rate-limited', backends: [{ backend: 'demo-rate-limited' }], retry: { attempts: 2, honorRetryAfter: true, budgetPercent: 100 } },
      // One attempt on the primary, so the timeline shows the fallback itself rather than retries.
      { model: 'demo-down', backends: [{ backend: 'demo-down-primary' }, { backend: 'demo', model: 'demo' }], retry: { attempts: 1 } },
      { model: 'demo-diverge', backends: [{ backend: 'demo-diverge' }], resume: 'verify' },
    ],
    ...(opts.webhookReceiver
      ? { webhooks: { allow: [opts.webhookReceiver], secret: { value: `whsec_${randomBytes(24).toString('base64')}` } } }
      : {}),
  };
}
