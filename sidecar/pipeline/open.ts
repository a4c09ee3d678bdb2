// A request becomes an exchange: its id, lifecycle (events from `request.accepted` on), the abort
// signal that a client disconnect or the total deadline fires, and the process-wide state it uses.
import type { ProxyRequest } from '../chat/types.ts';
import type { RuntimeConfig, RuntimeRoute } from '../config/runtime.ts';
import { Lifecycle } from '../events/lifecycle.ts';
import type { Sidecar } from '../sidecar.ts';
import type { RouteExchange } from './exchange.ts';

export function openExchange(sc: Sidecar, id: string, request: ProxyRequest, route: RuntimeRoute, config: RuntimeConfig): RouteExchange {
  const ac = new AbortController();
  const x: RouteExchange = {
    id,
    request,
    route,
    lifecycle: new Lifecycle(id, sc.dispatch),
    signal: ac.signal,
    // A second abort is a no-op (the DOM spec): the first reason stays.
    abort: (reason) => ac.abort(reason),
    deadline: Number.POSITIVE_INFINITY,
    resilience: sc.resilience,
    transport: sc.transportFor,
    secrets: config.secrets,
    limits: config.limits,
    cleanup: [],
  };
  x.lifecycle.emit('request.accepted', { operation: request.operation, format: request.format, model: request.model, stream: request.stream });
  return x;
}
