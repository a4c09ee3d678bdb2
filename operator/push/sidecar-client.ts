// HTTP client for the sidecar admin port (DESIGN.md, Admin port): GET /config to observe the
// running version, PUT /config to push one. Answers are classified, never thrown, so the pusher
// can apply per-pod policy (backoff, rejection memory) without try/catch around every call.
import { Agent, request } from 'undici';

export type PushAnswer =
  | { kind: 'applied'; version: number; hash: string | null } // 200
  | { kind: 'stale'; version: number; hash: string | null } // 409: it already runs this version or newer
  | { kind: 'rejected'; message: string } // 422: invalid, with reasons
  | { kind: 'unauthorized'; status: 401 | 403; message: string }
  | { kind: 'failed'; message: string }; // transport error, timeout, 5xx, anything unexpected

export type ObserveAnswer = { kind: 'running'; version: number; hash: string | null } | { kind: 'failed'; message: string };

export interface SidecarClientOptions {
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

interface ConfigAnswer {
  version?: unknown;
  hash?: unknown;
  error?: { message?: unknown };
}

export class SidecarClient {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(opts: SidecarClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    // Few connections per pod (pushes to one pod are serialised anyway), kept alive between
    // pushes; thousands of pods means thousands of origins.
    this.agent = new Agent({ connections: 2, keepAliveTimeout: 30_000, connect: { timeout: opts.connectTimeoutMs ?? 2000 }, maxOrigins: Infinity });
  }

  private async call(method: 'GET' | 'PUT', url: string, headers: Record<string, string>, body?: string): Promise<{ status: number; json: ConfigAnswer | undefined } | { error: string }> {
    try {
      const res = await request(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await res.body.text();
      let json: ConfigAnswer | undefined;
      try {
        json = JSON.parse(text) as ConfigAnswer;
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, json };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return { error: e.code ? `${e.code}` : (e.message ?? String(err)) };
    }
  }

  async observe(address: string): Promise<ObserveAnswer> {
    const r = await this.call('GET', `${address}/config`, {});
    if ('error' in r) return { kind: 'failed', message: r.error };
    if (r.status !== 200 || typeof r.json?.version !== 'number') return { kind: 'failed', message: `GET /config answered ${r.status}` };
    return { kind: 'running', version: r.json.version, hash: typeof r.json.hash === 'string' ? r.json.hash : null };
  }

  /** `body` is the serialised {version, config}: serialised once per version, not once per pod. */
  async push(address: string, token: string, body: string): Promise<PushAnswer> {
    const r = await this.call('PUT', `${address}/config`, { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body);
    if ('error' in r) return { kind: 'failed', message: r.error };
    const version = typeof r.json?.version === 'number' ? r.json.version : undefined;
    const hash = typeof r.json?.hash === 'string' ? r.json.hash : null;
    const message = typeof r.json?.error?.message === 'string' ? r.json.error.message : `HTTP ${r.status}`;
    if (r.status === 200 && version !== undefined) return { kind: 'applied', version, hash };
    if (r.status === 409 && version !== undefined) return { kind: 'stale', version, hash };
    if (r.status === 422) return { kind: 'rejected', message };
    if (r.status === 401 || r.status === 403) return { kind: 'unauthorized', status: r.status, message };
    return { kind: 'failed', message: `PUT /config answered ${r.status}: ${message}` };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
