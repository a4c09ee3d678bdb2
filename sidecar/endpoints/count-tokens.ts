// POST /v1/messages/count_tokens: Anthropic's token count for a Messages body, asked of the route's
// first backend, since a count is only true for the tokenizer of the model that will read the
// prompt. Anthropic backends get the body as sent; Gemini backends count with their own
// `countTokens`; a backend whose provider has no counting endpoint answers 400, because an
// estimate from another tokenizer would be a wrong number presented as a right one. One attempt,
// no fallback, no lifecycle events: it is a question about a prompt, not a generation.
import type { ChatRequest, JsonObject } from '../chat/types.ts';
import type { RuntimeRoute, RuntimeTarget } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';
import { redactError } from '../providers/classify.ts';
import { echoedHeaders } from '../providers/headers.ts';
import { readText } from '../upstream/frames.ts';
import { cancellationOf, type Transport } from '../upstream/transport.ts';

/** The answer is `{input_tokens}`; anything longer than this is not one. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface CountTokensContext {
  transport: (target: RuntimeTarget) => Transport;
  secrets: readonly string[];
  /** Aborted when the client leaves. */
  signal: AbortSignal;
}

export interface CountTokensAnswer {
  body: JsonObject;
  /** The upstream's request id, under the provider's name. */
  headers: Record<string, string>;
}

/** The backend that would serve the request first: the lowest priority number, in config order. */
function primary(route: RuntimeRoute): RuntimeTarget {
  return route.targets.reduce((best, t) => (t.priority < best.priority ? t : best));
}

export async function countTokens(request: ChatRequest, route: RuntimeRoute, ctx: CountTokensContext): Promise<CountTokensAnswer> {
  const target = primary(route);
  const { backend, model } = target;
  const { countTokensRequest, countTokensResult } = backend.adapter;
  if (!countTokensRequest || !countTokensResult)
    throw new AirouteError(
      'unsupported_parameter',
      400,
      `token counting is not available for route "${route.model}": its backend "${backend.name}" (${backend.type}) has no counting endpoint; anthropic and gemini backends do`,
      { providerFormat: 'anthropic', providerType: 'invalid_request_error' },
    );
  const upstream = countTokensRequest(request, backend, model);
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(route.timeouts.firstTokenMs)]);
  let res;
  try {
    res = await ctx.transport(target).send(upstream, { cancel: cancellationOf(signal), connectTimeoutMs: route.timeouts.connectMs, attempt: 1 });
  } catch (err) {
    throw new AirouteError('upstream_connect_failed', 502, `cannot reach backend "${backend.name}" to count tokens`, { cause: err, backend: backend.name });
  }
  const headers = echoedHeaders(res.headers, backend.adapter.requestIdHeaders);
  let text: string;
  try {
    text = await readText(res.body, MAX_ANSWER_BYTES, () => undefined);
  } catch (err) {
    res.discard();
    throw new AirouteError('upstream_reset', 502, `backend "${backend.name}" closed the connection while counting tokens`, { cause: err, backend: backend.name });
  }
  // the redaction boundary of this side entrance (attempt.ts has the data path's): every field the upstream sent
  if (res.status >= 400) throw redactError(backend.adapter.error(res.status, text, res.headers, ctx.secrets), ctx.secrets).with({ backend: backend.name, responseHeaders: headers });
  return { body: countTokensResult(text), headers };
}
