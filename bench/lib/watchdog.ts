// Preloaded into every sidecar the benchmark starts (`node --import`): the sidecar gets an IPC
// channel to the benchmark, and if the benchmark dies without stopping it (SIGKILL, a crash), the
// channel closes and the sidecar stops too, so no run leaves a sidecar behind. It adds one
// listener and nothing else; the channel does not keep the sidecar alive.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
