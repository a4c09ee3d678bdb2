// One shutdown path for every command: the first SIGTERM/SIGINT asks the running component to
// stop (the sidecar drains, the operator releases its Lease), a second one exits at once.
export interface Stoppable {
  /** Stops gracefully; resolves when the process may exit. */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** Writes out buffered logs before the process exits. */
  flush(): void;
}

export function exitOnSignals(component: Stoppable, signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      component.flush();
      process.exit(130);
    }
    stopping = true;
    component
      .stop(signal)
      .catch(() => undefined)
      .finally(() => {
        component.flush();
        process.exit(0);
      });
  };
  for (const s of signals) process.on(s, onSignal);
}
