// HTTP transport on undici: the fastest maintained HTTP/1.1 client for Node, with keep-alive pools
// per origin. Its own header/body timeouts are off: the attempt owns first-token, idle and total
// deadlines, which mean different things for a stream than for a plain response.
import { Agent, request } from 'undici';
import type { UpstreamRequest } from '../providers/types.ts';
import type { SendOptions, Transport, UpstreamResponse } from './transport.ts';

export class HttpTransport implements Transport {
  private readonly agents = new Map<number, Agent>();

  private agent(connectTimeoutMs: number): Agent {
    let agent = this.agents.get(connectTimeoutMs);
    if (!agent) {
      agent = new Agent({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0, pipelining: 1 });
      this.agents.set(connectTimeoutMs, agent);
    }
    return agent;
  }

  async send(req: UpstreamRequest, opts: SendOptions): Promise<UpstreamResponse> {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: opts.signal,
      dispatcher: this.agent(opts.connectTimeoutMs),
    });
    const body = res.body;
    return {
      status: res.statusCode,
      headers: res.headers,
      body,
      discard: () => {
        // dump() reads the rest (bounded) so the connection returns to the pool; on error it is destroyed.
        body.dump({ limit: 256 * 1024 }).catch(() => body.destroy());
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close().catch(() => undefined)));
    this.agents.clear();
  }
}
