// Optional OpenTelemetry traces, off unless OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT)
// is set: one span per request and a child per upstream attempt, with GenAI attributes, made
// from the same lifecycle events as the journal and the metrics (nothing on the data path).
// The SDK is loaded only when enabled, so an unconfigured sidecar pays nothing for it.
import type { Span, Tracer } from '@opentelemetry/api';
import type { LifecycleEvent } from './events/types.ts';
import { PROVIDER_NAME } from './metrics.ts';
import type { Sidecar } from './sidecar.ts';
import type { BackendType } from '../api/v1alpha1/config.ts';

export interface Tracing {
  shutdown(): Promise<void>;
}

interface Open {
  request: Span;
  attempt?: Span;
}

export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT) && env.OTEL_SDK_DISABLED !== 'true';
}

export async function startTracing(sc: Sidecar, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!tracingEnabled(env)) return undefined;
  const api = await import('@opentelemetry/api');
  const { TracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  // Per the OTLP exporter spec: a signal-specific endpoint is used as is, the general one gets /v1/traces.
  // (Headers and timeouts the exporter reads from OTEL_EXPORTER_OTLP_* itself.)
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${String(env.OTEL_EXPORTER_OTLP_ENDPOINT).replace(/\/+$/, '')}/v1/traces`;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'airoute-sidecar' }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), scheduledDelayMillis: 500 })],
  });
  const tracer: Tracer = provider.getTracer('airoute-sidecar');
  const open = new Map<string, Open>();
  const backendType = (name: unknown): string | undefined => {
    const b = sc.config?.backends.get(String(name));
    return b ? (PROVIDER_NAME[b.type as BackendType] ?? b.type) : undefined;
  };
  const child = (o: Open, name: string, at: number) => tracer.startSpan(name, { startTime: at }, api.trace.setSpan(api.context.active(), o.request));

  sc.onEvent((ev: LifecycleEvent) => {
    if (ev.type === 'content.delta') return;
    if (ev.type === 'request.accepted') {
      const op = ev.data.operation === 'embeddings' ? 'embeddings' : 'chat';
      const span = tracer.startSpan(`${op} ${String(ev.data.model)}`, {
        startTime: ev.ts,
        kind: api.SpanKind.SERVER,
        attributes: { 'gen_ai.operation.name': op, 'gen_ai.request.model': String(ev.data.model), 'airoute.request.id': ev.requestId, 'airoute.stream': ev.data.stream === true, 'airoute.api': ev.data.format },
      });
      open.set(ev.requestId, { request: span });
      return;
    }
    const o = open.get(ev.requestId);
    if (!o) return;
    switch (ev.type) {
      case 'attempt.started':
        o.attempt?.end(ev.ts);
        o.attempt = child(o, `attempt ${ev.attempt} ${String(ev.data.backend)}`, ev.ts);
        o.attempt.setAttributes({
          'gen_ai.request.model': String(ev.data.model),
          'gen_ai.provider.name': backendType(ev.data.backend) ?? 'unknown',
          'airoute.backend': String(ev.data.backend),
          'airoute.attempt': ev.attempt,
          'airoute.attempt.mode': String(ev.data.mode),
        });
        return;
      case 'attempt.failed':
        if (o.attempt) {
          o.attempt.setStatus({ code: api.SpanStatusCode.ERROR, message: String(ev.data.code) });
          o.attempt.setAttributes({ 'error.type': String(ev.data.code), 'airoute.failure.phase': String(ev.data.phase), 'airoute.retriable': ev.data.retriable === true });
          o.attempt.end(ev.ts);
          o.attempt = undefined;
        }
        return;
      case 'retry.scheduled':
      case 'fallback':
      case 'checkpoint':
      case 'stream.resumed':
        o.request.addEvent(ev.type, Object.fromEntries(Object.entries(ev.data).filter(([, v]) => typeof v === 'string' || typeof v === 'number')) as Record<string, string | number>, ev.ts);
        return;
      case 'request.completed':
      case 'request.failed':
      case 'request.cancelled': {
        if (ev.type === 'request.completed') {
          const { usage, model, finishReasons } = ev.data;
          if (usage) {
            o.request.setAttribute('gen_ai.usage.input_tokens', usage.inputTokens);
            o.request.setAttribute('gen_ai.usage.output_tokens', usage.outputTokens);
          }
          if (model) o.request.setAttribute('gen_ai.response.model', model);
          o.request.setAttribute('gen_ai.response.finish_reasons', finishReasons.map(String));
        }
        o.request.setAttribute('airoute.attempts', ev.attempt);
        if (ev.type !== 'request.completed') {
          const code = ev.type === 'request.failed' ? ev.data.error.code : 'cancelled';
          o.request.setStatus({ code: api.SpanStatusCode.ERROR, message: code });
          o.request.setAttribute('error.type', code);
        }
        o.attempt?.end(ev.ts);
        o.request.end(ev.ts);
        open.delete(ev.requestId);
        return;
      }
    }
  });
  sc.logger.info({ endpoint: url }, 'OpenTelemetry traces enabled');
  return { shutdown: () => provider.shutdown() };
}
