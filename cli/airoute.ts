#!/usr/bin/env node
// `airoute sidecar [...]` and `airoute operator [...]`: dispatches to each component's main and
// gives both the same signal handling. Flags override environment variables.
import { ConfigError } from '../sidecar/config/load.ts';
import { SIDECAR_USAGE, runSidecar } from '../sidecar/main.ts';
import { exitOnSignals, type Stoppable } from './signals.ts';

const USAGE = `${SIDECAR_USAGE}
  airoute operator [flags]   (airoute operator --help lists them)`;

async function run(argv: string[]): Promise<Stoppable | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'sidecar':
      return runSidecar(rest);
    case 'operator': {
      const operator = await import('../operator/main.ts').catch((err: unknown) => {
        // The sidecar image leaves the operator (and its Kubernetes client) out on purpose.
        throw new Error(`the operator is not part of this build (use the operator image): ${(err as Error).message}`);
      });
      return operator.runOperator(rest);
    }
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return undefined;
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

run(process.argv.slice(2)).then(
  (running) => {
    if (running) exitOnSignals(running);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(`airoute: ${(err as Error).message}`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  },
);
