// A request becomes an exchange: its id, lifecycle (events from `request.accepted` on), the scope
// that a client disconnect or the total deadline aborts, and the process-wide state it uses.
import type { ProxyRequest } from '../chat/types.ts';
import type { RuntimeConfig, RuntimeRoute } from '../config/runtime.ts';
import { Lifecycle } from '../events/lifecycle.ts';
import type { Sidecar } from '../sidecar.ts';
import type { RouteExchange } from './exchange.ts';
import { ExchangeScope } from './scope.ts';

export function openExchange(sc: Sidecar, id: string, request: ProxyRequest, route: RuntimeRoute, config: RuntimeConfig): RouteExchange {
  const scope = new ExchangeScope();
  const x: RouteExchange = {
    id,
    request,
    route,
    lifecycle: new Lifecycle(id, sc.dispatch),
    scope,
    // A second abort is a no-op: the first reason stays.
    abort: scope.abort,
    deadline: Number.POSITIVE_INFINITY,
    resilience: sc.resilience,
    transport: sc.transportFor,
    secrets: config.secrets,
    limits: config.limits,
  };
  x.lifecycle.emit('request.accepted', { operation: request.operation, format: request.format, model: request.model, stream: request.stream });
  return x;
}
