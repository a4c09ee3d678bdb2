// Starts a real sidecar in-process on ephemeral loopback ports, with its logs captured.
import { Writable } from 'node:stream';
import { createLogger } from '../../sidecar/log.ts';
import { startSidecar, type RunningSidecar, type StartOptions } from '../../sidecar/start.ts';

export interface TestSidecar extends RunningSidecar {
  /** Every log line the sidecar wrote, as text. */
  logs: string[];
}

export async function testSidecar(config: unknown, opts: Omit<StartOptions, 'configDocument' | 'logger'> = {}): Promise<TestSidecar> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger('debug', sink);
  const running = await startSidecar({ port: 0, adminPort: 0, ...opts, ...(config === undefined ? {} : { configDocument: config }), logger });
  return Object.assign(running, { logs });
}
