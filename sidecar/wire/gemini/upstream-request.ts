// Google Gemini generateContent, upstream request: clients never speak Gemini, so the body is
// always built from the neutral prompt.
import { invalidRequest, refuseUntranslatable } from '../../errors.ts';
import type { ChatRequest, JsonObject, ToolChoice } from '../../chat/types.ts';
import { parseArguments } from '../../chat/types.ts';

export function geminiBody(req: ChatRequest, opts: { prefill?: string }): JsonObject {
  const p = req.prompt();
  refuseUntranslatable(p.untranslatable, 'Gemini');
  if (opts.prefill !== undefined) throw invalidRequest('Gemini backends do not continue an assistant prefix');
  const toolNames = new Map<string, string>();
  const contents = p.messages
    .map((m) => ({
      role: m.role === 'assistant' ? 'model' : 'user',
      parts: m.content
        .filter((x) => !(x.type === 'text' && x.text === ''))
        .map((x) => {
          switch (x.type) {
            case 'text':
              return { text: x.text };
            case 'image':
              if (!x.data) throw invalidRequest('image URLs cannot be sent to a Gemini backend; send the image inline (base64)');
              return { inlineData: { mimeType: x.mediaType ?? 'image/png', data: x.data } };
            case 'tool_call':
              toolNames.set(x.id, x.name);
              return { functionCall: { name: x.name, args: parseArguments(x.arguments) } };
            case 'tool_result':
              return { functionResponse: { name: x.name ?? toolNames.get(x.toolCallId) ?? x.toolCallId, response: { content: x.content } } };
          }
        }),
    }))
    .filter((c) => c.parts.length > 0);
  const body: JsonObject = { contents };
  if (p.system) body.systemInstruction = { parts: [{ text: p.system }] };
  const gen: JsonObject = {};
  if (p.maxTokens !== undefined) gen.maxOutputTokens = p.maxTokens;
  if (p.temperature !== undefined) gen.temperature = p.temperature;
  if (p.topP !== undefined) gen.topP = p.topP;
  if (p.stop?.length) gen.stopSequences = p.stop;
  if (req.choices > 1) gen.candidateCount = req.choices;
  if (p.responseFormat) {
    gen.responseMimeType = 'application/json';
    if (p.responseFormat.type === 'json_schema') gen.responseJsonSchema = p.responseFormat.schema;
  }
  if (Object.keys(gen).length) body.generationConfig = gen;
  if (p.tools?.length)
    body.tools = [{ functionDeclarations: p.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), parametersJsonSchema: t.parameters })) }];
  if (p.toolChoice) body.toolConfig = { functionCallingConfig: toolChoiceToGemini(p.toolChoice) };
  return body;
}

function toolChoiceToGemini(c: ToolChoice): JsonObject {
  switch (c.type) {
    case 'none':
      return { mode: 'NONE' };
    case 'required':
      return { mode: 'ANY' };
    case 'tool':
      return { mode: 'ANY', allowedFunctionNames: [c.name] };
    default:
      return { mode: 'AUTO' };
  }
}
