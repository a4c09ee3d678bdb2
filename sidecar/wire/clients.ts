// The client formats the sidecar serves, by name. The data path looks a codec up here and never
// branches on a format: a new client API is a folder with its client-request and client-answer
// files plus one entry below, which the compiler demands as soon as ClientFormat names it.
import type { ClientFormat } from '../chat/types.ts';
import { providerBody } from './error-body.ts';
import { isObject } from './json.ts';
import { AnthropicStreamEncoder, encodeAnthropicResult } from './anthropic/client-answer.ts';
import { decodeMessagesRequest } from './anthropic/client-request.ts';
import { OpenAIStreamEncoder, encodeOpenAIResult } from './openai/client-answer.ts';
import { decodeChatRequest } from './openai/client-request.ts';
import { ResponsesStreamEncoder, encodeResponsesResult } from './responses/client-answer.ts';
import { decodeResponsesRequest } from './responses/client-request.ts';
import type { ClientCodec } from './types.ts';

export const CLIENT_CODECS: Readonly<Record<ClientFormat, ClientCodec>> = {
  openai: {
    path: '/v1/chat/completions',
    decodeRequest: decodeChatRequest,
    encodeResult: encodeOpenAIResult,
    // Embeddings are OpenAI-shaped too but never stream; only a chat client can ask for usage.
    streamEncoder: (request, fallbackId) =>
      new OpenAIStreamEncoder(
        // Stryker disable next-line ConditionalExpression: an embeddings request has no includeUsage (undefined, so no usage either) and never streams
        request.operation === 'chat' && request.includeUsage,
        fallbackId,
        isObject(request.body.stream_options) && request.body.stream_options.continuous_usage_stats === true,
      ),
    errorBody: (err) => providerBody(err, 'openai') ?? err.toOpenAI(),
  },
  anthropic: {
    path: '/v1/messages',
    decodeRequest: decodeMessagesRequest,
    encodeResult: encodeAnthropicResult,
    streamEncoder: (_request, fallbackId) => new AnthropicStreamEncoder(fallbackId),
    errorBody: (err) => providerBody(err, 'anthropic') ?? err.toAnthropic(),
  },
  responses: {
    path: '/v1/responses',
    decodeRequest: (body) => decodeResponsesRequest(body),
    encodeResult: encodeResponsesResult,
    streamEncoder: (request, fallbackId) => new ResponsesStreamEncoder(request, fallbackId),
    // The Responses API reports errors as Chat Completions does.
    errorBody: (err) => err.toOpenAI(),
  },
};
