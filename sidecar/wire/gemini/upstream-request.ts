// Google Gemini generateContent, upstream request: clients never speak Gemini, so the body is
// always built from the neutral prompt.
import { invalidRequest } from '../../errors.ts';
import type { ChatRequest, JsonObject, ReasoningRequest, ToolChoice } from '../../chat/types.ts';
import { parseArguments } from '../../chat/types.ts';
import { refuseParameters, type NeutralParameter } from '../parameters.ts';
import { budgetForEffort } from '../reasoning.ts';

export function geminiBody(req: ChatRequest, opts: { prefill?: string }): JsonObject {
  const p = req.prompt();
  const refused: NeutralParameter[] = [];
  if (p.user !== undefined) refused.push('user');
  if (p.parallelToolCalls === false) refused.push('parallelToolCalls');
  refuseParameters(req, refused, 'Gemini');
  if (opts.prefill !== undefined) throw invalidRequest('Gemini backends do not continue an assistant prefix');
  const toolNames = new Map<string, string>();
  const contents = p.messages
    .map((m) => ({
      role: m.role === 'assistant' ? 'model' : 'user',
      parts: m.content
        .flatMap((x): JsonObject[] => {
          switch (x.type) {
            case 'text':
              return x.text === '' ? [] : [{ text: x.text }];
            case 'image':
              if (!x.data) throw invalidRequest('image URLs cannot be sent to a Gemini backend; send the image inline (base64)');
              return [{ inlineData: { mimeType: x.mediaType ?? 'image/png', data: x.data } }];
            case 'file':
              // Gemini fetches public and signed https URLs itself (since January 2026); it has no place for a file name.
              if (x.url !== undefined) return [{ fileData: { ...(x.mediaType ? { mimeType: x.mediaType } : {}), fileUri: x.url } }];
              return [{ inlineData: { mimeType: x.mediaType, data: x.data } }];
            case 'tool_call':
              toolNames.set(x.id, x.name);
              // Gemini 3 refuses the turn unless each signed call comes back with its signature.
              return [{ functionCall: { name: x.name, args: parseArguments(x.arguments) }, ...(x.signature ? { thoughtSignature: x.signature } : {}) }];
            case 'tool_result':
              return [{ functionResponse: { name: x.name ?? toolNames.get(x.toolCallId) ?? x.toolCallId, response: { content: x.content } } }];
            case 'reasoning':
              return []; // Gemini keeps its own thoughts; what it needs back is the signature on the call
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
  if (p.topK !== undefined) gen.topK = p.topK;
  if (p.stop?.length) gen.stopSequences = p.stop;
  if (p.seed !== undefined) gen.seed = p.seed;
  if (p.presencePenalty !== undefined) gen.presencePenalty = p.presencePenalty;
  if (p.frequencyPenalty !== undefined) gen.frequencyPenalty = p.frequencyPenalty;
  if (req.choices > 1) gen.candidateCount = req.choices;
  const thinking = thinkingConfig(p.reasoning);
  if (thinking) gen.thinkingConfig = thinking;
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

/**
 * A `countTokens` body: the whole generateContent request (system instruction and tools count
 * too), which Gemini accepts only with its model named inside it.
 */
export function geminiCountBody(req: ChatRequest, model: string): JsonObject {
  return { generateContentRequest: { model: `models/${model}`, ...geminiBody(req, {}) } };
}

/**
 * Gemini 2.5 takes a token budget and Gemini 3 still accepts one (its `thinkingLevel` is not known
 * to 2.5), so an effort becomes a budget (wire/reasoning.ts) and "none" a budget of 0. Thought
 * summaries come back only when the client can show them (an Anthropic client asking for thinking).
 */
function thinkingConfig(r: ReasoningRequest | undefined): JsonObject | undefined {
  if (!r) return undefined;
  const out: JsonObject = {};
  if (r.budgetTokens !== undefined) out.thinkingBudget = r.budgetTokens;
  else if (r.effort !== undefined) out.thinkingBudget = r.effort === 'none' ? 0 : budgetForEffort(r.effort);
  if (r.summary !== undefined && out.thinkingBudget !== 0) out.includeThoughts = true;
  return Object.keys(out).length ? out : undefined;
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
