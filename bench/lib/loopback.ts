// Preloaded (`node --import`) into a peer that cannot be told which address to listen on:
// Portkey's gateway (`@hono/node-server`'s `serve`) calls `server.listen(port, undefined, cb)` and
// so binds every interface. With this, any `listen()` on a port without a host binds 127.0.0.1,
// as everything in a benchmark run must. Nothing else changes.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]): net.Server {
  const [first] = args;
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    if (args[1] === undefined || args[1] === null) args[1] = '127.0.0.1';
    else if (typeof args[1] === 'function') args.splice(1, 0, '127.0.0.1');
  } else if (first && typeof first === 'object' && !('fd' in first) && !('path' in first) && !('host' in first && (first as { host?: unknown }).host)) {
    args[0] = { ...(first as object), host: '127.0.0.1' };
  }
  return (listen as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof net.Server.prototype.listen;
