// GET /v1/models: the route names, which are the model names an app may send. OpenAI's list
// shape by default, Anthropic's when the caller sends `anthropic-version` (as its SDK does).
import type { RuntimeConfig } from '../config/runtime.ts';
import { AirouteError } from '../errors.ts';

const EPOCH = '1970-01-01T00:00:00Z';

export function listModels(config: RuntimeConfig, anthropic: boolean): unknown {
  const ids = [...config.routes.keys()];
  if (anthropic)
    return { data: ids.map(anthropicModel), has_more: false, first_id: ids[0] ?? null, last_id: ids[ids.length - 1] ?? null };
  return { object: 'list', data: ids.map(openaiModel) };
}

export function getModel(config: RuntimeConfig, id: string, anthropic: boolean): unknown {
  if (!config.routes.has(id)) throw modelNotFound(id);
  return anthropic ? anthropicModel(id) : openaiModel(id);
}

const openaiModel = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'airoute' });
const anthropicModel = (id: string) => ({ type: 'model', id, display_name: id, created_at: EPOCH });

export function modelNotFound(model: string): AirouteError {
  return new AirouteError('model_not_found', 404, `The model \`${model}\` does not exist or you do not have access to it.`, {
    param: 'model',
    providerFormat: 'openai',
    providerType: 'invalid_request_error',
    providerCode: 'model_not_found',
  });
}
