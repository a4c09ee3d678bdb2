// Runs a non-Node program (nginx) for a benchmark so that it cannot outlive the benchmark:
//
//   node bench/lib/guard.ts -- CMD ARGS...
//
// The program gets a process group of its own; the guard prints `pid N` (the program's pid, which
// is also its group id) and, when its IPC channel to the benchmark closes (the benchmark exited or
// was killed) or it receives SIGTERM/SIGINT, signals the whole group (nginx: master and workers)
// with SIGTERM, then SIGKILL, and exits. It exits with the program's code if the program exits first.
import { spawn } from 'node:child_process';

const sep = process.argv.indexOf('--');
const [cmd, ...args] = sep >= 0 ? process.argv.slice(sep + 1) : [];
if (!cmd) {
  process.stderr.write('usage: node bench/lib/guard.ts -- CMD [ARGS...]\n');
  process.exit(2);
}

const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
let stopping = false;

function group(sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // already gone
  }
}

function stop(): void {
  if (stopping) return;
  stopping = true;
  group('SIGTERM');
  setTimeout(() => {
    group('SIGKILL');
    process.exit(0);
  }, 1000).unref();
}

child.once('spawn', () => process.stdout.write(`pid ${child.pid}\n`));
child.once('error', (err) => {
  process.stderr.write(`guard: cannot start ${cmd}: ${err.message}\n`);
  process.exit(127);
});
child.once('exit', (code, signal) => {
  // The master is gone; make sure no worker of its group lingers.
  group('SIGKILL');
  process.exit(stopping ? 0 : (code ?? (signal ? 1 : 0)));
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', stop);
}
// Last resort: the guard itself is exiting for another reason.
process.on('exit', () => group('SIGKILL'));
