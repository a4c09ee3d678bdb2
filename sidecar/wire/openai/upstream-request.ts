// OpenAI Chat Completions, upstream request: the body sent to a provider that speaks it. A client
// of the same format gets its own body back with the model replaced; any other client's prompt
// is built from the neutral form.
import { invalidRequest, refuseUntranslatable } from '../../errors.ts';
import type { ChatPrompt, ChatRequest, JsonObject, ToolChoice } from '../../chat/types.ts';
import { isObject } from '../json.ts';

export interface OpenAIBodyOptions {
  stream: boolean;
  prefill?: string;
  /** vLLM/SGLang spelling for "continue the trailing assistant message". */
  continueFinalMessage: boolean;
}

function withPrefill(messages: unknown[], prefill: string): unknown[] {
  const last = messages[messages.length - 1];
  if (isObject(last) && last.role === 'assistant' && typeof last.content === 'string' && !Array.isArray(last.tool_calls))
    return [...messages.slice(0, -1), { ...last, content: last.content + prefill }];
  return [...messages, { role: 'assistant', content: prefill }];
}

export function openaiBody(req: ChatRequest, model: string, opts: OpenAIBodyOptions): JsonObject {
  const body: JsonObject = req.format === 'openai' ? { ...req.body, model } : promptToOpenAI(req.prompt(), model);
  body.stream = opts.stream;
  if (opts.stream) {
    // Always ask for usage so metrics and events see tokens; the encoder drops the chunk for a client that did not ask.
    body.stream_options = { ...(isObject(req.body.stream_options) ? req.body.stream_options : {}), include_usage: true };
  } else delete body.stream_options;
  if (opts.prefill !== undefined) {
    body.messages = withPrefill(body.messages as unknown[], opts.prefill);
    if (opts.continueFinalMessage) {
      body.continue_final_message = true;
      body.add_generation_prompt = false;
    }
  }
  return body;
}

function promptToOpenAI(p: ChatPrompt, model: string): JsonObject {
  refuseUntranslatable(p.untranslatable, 'OpenAI');
  const messages: JsonObject[] = [];
  if (p.system !== undefined) messages.push({ role: 'system', content: p.system });
  for (const m of p.messages) {
    if (m.role === 'assistant') {
      const text = m.content.filter((x) => x.type === 'text').map((x) => (x as { text: string }).text).join('');
      const calls = m.content.filter((x) => x.type === 'tool_call');
      const msg: JsonObject = { role: 'assistant', content: text || (calls.length ? null : '') };
      if (calls.length)
        msg.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } }));
      messages.push(msg);
      continue;
    }
    for (const part of m.content)
      if (part.type === 'tool_result') messages.push({ role: 'tool', tool_call_id: part.toolCallId, content: part.content });
    const rest = m.content.filter((x) => x.type !== 'tool_result');
    if (rest.length === 0) continue;
    if (rest.length === 1 && rest[0]?.type === 'text') messages.push({ role: 'user', content: rest[0].text });
    else
      messages.push({
        role: 'user',
        content: rest.map((x) => {
          if (x.type === 'text') return { type: 'text', text: x.text };
          if (x.type === 'image') return { type: 'image_url', image_url: { url: x.url ?? `data:${x.mediaType};base64,${x.data}` } };
          throw invalidRequest('a tool call cannot appear in a user message', 'messages');
        }),
      });
  }
  const body: JsonObject = { model, messages };
  if (p.maxTokens !== undefined) body.max_tokens = p.maxTokens;
  if (p.temperature !== undefined) body.temperature = p.temperature;
  if (p.topP !== undefined) body.top_p = p.topP;
  if (p.stop?.length) body.stop = p.stop;
  if (p.tools?.length)
    body.tools = p.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
  if (p.toolChoice) body.tool_choice = toolChoiceToOpenAI(p.toolChoice);
  if (p.responseFormat?.type === 'json_object') body.response_format = { type: 'json_object' };
  else if (p.responseFormat?.type === 'json_schema')
    body.response_format = { type: 'json_schema', json_schema: { name: p.responseFormat.name ?? 'response', schema: p.responseFormat.schema } };
  return body;
}

function toolChoiceToOpenAI(c: ToolChoice): unknown {
  return c.type === 'tool' ? { type: 'function', function: { name: c.name } } : c.type;
}
