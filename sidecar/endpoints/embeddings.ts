// POST /v1/embeddings: OpenAI-shaped only (no other client format has embeddings).
import type { EmbeddingsRequest, JsonObject } from '../chat/types.ts';
import { AirouteError } from '../errors.ts';

export function decodeEmbeddingsRequest(body: JsonObject): EmbeddingsRequest {
  if (typeof body.model !== 'string' || body.model === '') throw new AirouteError('invalid_request', 400, 'you must provide a model parameter', { param: 'model' });
  if (body.input === undefined || body.input === null) throw new AirouteError('invalid_request', 400, "Missing required parameter: 'input'.", { param: 'input' });
  return { operation: 'embeddings', format: 'openai', body, model: body.model, stream: false };
}
