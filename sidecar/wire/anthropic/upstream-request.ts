// Anthropic Messages, upstream request: the body sent to Anthropic. A client of the same format
// gets its own body back with the model replaced; any other client's prompt is built from the
// neutral form.
import { refuseUntranslatable } from '../../errors.ts';
import type { ChatPrompt, ChatRequest, JsonObject, ToolChoice } from '../../chat/types.ts';
import { parseArguments } from '../../chat/types.ts';
import { isObject, str } from '../json.ts';

export const ANTHROPIC_VERSION = '2023-06-01';
/** Anthropic requires max_tokens; an OpenAI client may omit it. */
export const DEFAULT_MAX_TOKENS = 4096;

function withPrefill(messages: unknown[], prefill: string): unknown[] {
  const last = messages[messages.length - 1];
  if (isObject(last) && last.role === 'assistant') {
    if (typeof last.content === 'string') return [...messages.slice(0, -1), { ...last, content: last.content + prefill }];
    if (Array.isArray(last.content)) {
      const blocks = [...last.content];
      const tail = blocks[blocks.length - 1];
      if (isObject(tail) && tail.type === 'text') blocks[blocks.length - 1] = { ...tail, text: str(tail.text) + prefill };
      else blocks.push({ type: 'text', text: prefill });
      return [...messages.slice(0, -1), { ...last, content: blocks }];
    }
  }
  return [...messages, { role: 'assistant', content: prefill }];
}

export function anthropicBody(req: ChatRequest, model: string, opts: { stream: boolean; prefill?: string }): JsonObject {
  const body: JsonObject = req.format === 'anthropic' ? { ...req.body, model } : promptToAnthropic(req.prompt(), model);
  body.stream = opts.stream;
  if (opts.prefill !== undefined && opts.prefill !== '') body.messages = withPrefill(body.messages as unknown[], opts.prefill);
  return body;
}

function promptToAnthropic(p: ChatPrompt, model: string): JsonObject {
  refuseUntranslatable(p.untranslatable.concat(p.responseFormat ? ['response_format'] : []), 'Anthropic');
  const messages = p.messages
    .map((m) => ({
      role: m.role,
      content: m.content
        .filter((x) => !(x.type === 'text' && x.text === ''))
        .map((x) => {
          switch (x.type) {
            case 'text':
              return { type: 'text', text: x.text };
            case 'image':
              return { type: 'image', source: x.url ? { type: 'url', url: x.url } : { type: 'base64', media_type: x.mediaType, data: x.data } };
            case 'tool_call':
              return { type: 'tool_use', id: x.id, name: x.name, input: parseArguments(x.arguments) };
            case 'tool_result':
              return { type: 'tool_result', tool_use_id: x.toolCallId, content: x.content, ...(x.isError ? { is_error: true } : {}) };
          }
        }),
    }))
    .filter((m) => m.content.length > 0);
  const body: JsonObject = { model, messages, max_tokens: p.maxTokens ?? DEFAULT_MAX_TOKENS };
  if (p.system) body.system = p.system;
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  if (p.stop?.length) body.stop_sequences = p.stop;
  if (p.tools?.length) body.tools = p.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters }));
  if (p.toolChoice) body.tool_choice = toolChoiceToAnthropic(p.toolChoice);
  return body;
}

function toolChoiceToAnthropic(c: ToolChoice): JsonObject {
  switch (c.type) {
    case 'required':
      return { type: 'any' };
    case 'tool':
      return { type: 'tool', name: c.name };
    default:
      return { type: c.type };
  }
}
