// The data port's browser-origin policy. The sidecar spends its API keys for whoever reaches its
// loopback port, and a web page in the developer's (or a pod's) browser can reach it too: a
// cross-origin "simple" POST (text/plain, so no CORS preflight) is proxied with the key before the
// browser hides the answer, and a page that rebinds its own DNS name to 127.0.0.1 is same-origin
// with the sidecar and can read answers, events and async results. Three checks, before a body
// is read, stop both:
// - Host: a loopback name, an IP address, or a configured name. A rebinding page sends its own
//   DNS name; an address literal cannot be rebound, and is what a client of the listener's own
//   address sends.
// - Origin: absent (not a browser, or a same-origin navigation), the request's own origin (the
//   demo page), or listed in cors.allowOrigins. Browsers send Origin on every cross-origin request
//   and on WebSocket handshakes, so this also stops cross-site WebSocket hijacking.
// - A POST that carries a body says it is JSON: the provider APIs take nothing else, and the
//   content types a page may send without a preflight (text/plain, forms) are exactly the others.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { AirouteError } from '../errors.ts';

export interface BrowserPolicy {
  /** Origins (`scheme://host[:port]`, lower case) allowed to call cross-origin. */
  readonly allowOrigins: ReadonlySet<string>;
  /** Host names (lower case, no trailing dot) answered besides loopback names and IP addresses. */
  readonly allowHosts: ReadonlySet<string>;
}

export const NO_BROWSER_ORIGINS: BrowserPolicy = { allowOrigins: new Set(), allowHosts: new Set() };

/** Response headers a cross-origin caller may read: the request's handle, attempts, Location of an async request. */
const EXPOSED = 'x-airoute-request-id, x-airoute-attempts, x-airoute-backend, location, retry-after, preference-applied, idempotent-replayed';

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The host name in a Host header value: lower case, no port, brackets or trailing dot; undefined if malformed. */
export function hostName(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? bracketed[1] : undefined;
  const m = /^([a-z0-9.-]+?)\.?(?::\d{1,5})?$/.exec(h);
  return m && m[1] ? m[1] : undefined;
}

function hostAllowed(name: string, policy: BrowserPolicy): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true; // RFC 6761: always loopback
  if (isIP(name) !== 0) return true;
  return policy.allowHosts.has(name);
}

/**
 * Refuses (403, in the endpoint's error shape) a request a web page may have sent without
 * permission. Answers the Origin to echo in CORS headers when a configured origin called, else
 * undefined (no Origin, or the page is the sidecar's own).
 */
export function checkBrowserOrigin(req: IncomingMessage, policy: BrowserPolicy): string | undefined {
  const host = header(req, 'host');
  if (host !== undefined) {
    const name = hostName(host);
    if (name === undefined || !hostAllowed(name, policy))
      throw new AirouteError('host_not_allowed', 403, `Host "${host.slice(0, 100)}" is not a loopback name, an IP address or one of cors.allowHosts (a page rebinding its DNS name to this sidecar is refused)`);
  }
  const origin = header(req, 'origin');
  if (origin === undefined) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:')) {
    const defaultPort = parsed.protocol === 'https:' ? ':443' : ':80';
    if (host !== undefined && parsed.host === host.trim().toLowerCase().replace(defaultPort, '')) return undefined; // same origin
    if (policy.allowOrigins.has(parsed.origin)) return parsed.origin;
  }
  throw new AirouteError('origin_not_allowed', 403, `Origin "${origin.slice(0, 100)}" is not allowed to call this sidecar; list it in cors.allowOrigins to let that web app use it`);
}

/** `application/json`, or a `+json` type, with any parameters. */
function isJson(contentType: string): boolean {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** A POST that carries a body must say it is JSON (415 otherwise); one without a body may say nothing. */
export function requireJsonBody(req: IncomingMessage): void {
  if (req.method !== 'POST') return;
  const type = header(req, 'content-type');
  const length = Number(header(req, 'content-length') ?? '0');
  const hasBody = header(req, 'transfer-encoding') !== undefined || length > 0;
  if (type === undefined ? !hasBody : isJson(type)) return;
  throw new AirouteError('unsupported_media_type', 415, `a POST body must be JSON (content-type: application/json), got ${type === undefined ? 'none' : `"${type.slice(0, 100)}"`}`);
}

/** Headers for an allowed cross-origin caller. */
export function corsHeaders(origin: string): Record<string, string> {
  return { 'access-control-allow-origin': origin, vary: 'Origin', 'access-control-expose-headers': EXPOSED };
}

/** The answer to an allowed origin's CORS preflight: what it may send, for ten minutes. */
export function preflightHeaders(req: IncomingMessage, origin: string): Record<string, string> {
  const asked = header(req, 'access-control-request-headers');
  return {
    ...corsHeaders(origin),
    'access-control-allow-methods': 'GET, POST, DELETE',
    ...(asked ? { 'access-control-allow-headers': asked } : {}),
    'access-control-max-age': '600',
  };
}
