// The clients of the conformance suite, none written by this project: the official SDKs, the Vercel
// AI SDK providers (with `ai`'s streamText) and LangChain JS. Each drives a conversation the way an
// app built on it would (stream the answer, run the tool, send the history back as that library
// builds it) and reports what the library handed the app, in one shape the suite can compare.
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import Anthropic from '@anthropic-ai/sdk';
import { ChatAnthropic } from '@langchain/anthropic';
import { AIMessageChunk, HumanMessage, ToolMessage, type BaseMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { jsonSchema, streamText, tool, type JSONValue, type LanguageModel, type ModelMessage } from 'ai';
import OpenAI from 'openai';
import type { ClientFormat as AnyClientFormat } from '../../sidecar/chat/types.ts';
import { CALLS } from './upstreams.ts';

/** The matrix drives Chat Completions and Messages clients; the Responses API has its own suites (test/responses/). */
type ClientFormat = Exclude<AnyClientFormat, 'responses'>;

export interface Observation {
  text: string;
  toolCalls: { id: string; name: string; args: unknown }[];
  /** Normalised: stop, tool_calls, length. */
  finish?: string | undefined;
  /** Input counts every prompt token, whatever the library's own fields. */
  usage?: { input?: number | undefined; output?: number | undefined; cacheRead?: number | undefined } | undefined;
  /** Reasoning text the library handed the app. */
  reasoning: string;
  error?: { status?: number | undefined; message: string } | undefined;
}

export interface Ask {
  model: string;
  prompt: string;
  /** How many of CALLS to offer as tools (0: none). */
  tools: number;
  reasoning: boolean;
}

/** A conversation: the first answer, then (after tool calls) the answer to their results. */
export interface Conversation {
  first(): Promise<Observation>;
  second(): Promise<Observation>;
}

export interface Driver {
  name: string;
  format: ClientFormat;
  /** The library shows OpenAI-compatible `reasoning_content` to the app. */
  showsReasoningContent: boolean;
  start(baseURL: string, ask: Ask): Conversation;
}

export const TOOL_RESULT: Record<string, string> = { get_weather: '18C', get_time: '14:05' };
const SCHEMA = { type: 'object' as const, properties: { city: { type: 'string' as const } }, required: ['city'] };
const offered = (n: number) => CALLS.slice(0, n);

function failure(e: unknown): Observation['error'] {
  const err = e as { status?: number; message?: string; statusCode?: number; lastError?: unknown; cause?: unknown };
  const status = err.status ?? err.statusCode;
  return { ...(status !== undefined ? { status } : {}), message: String(err.message ?? e) };
}

const FINISH: Record<string, string> = { end_turn: 'stop', stop: 'stop', tool_use: 'tool_calls', tool_calls: 'tool_calls', 'tool-calls': 'tool_calls', max_tokens: 'length', length: 'length' };
const finishOf = (f: string | null | undefined) => (f ? (FINISH[f] ?? f) : undefined);

// --- the official OpenAI SDK -----------------------------------------------------------------
const openaiSdk: Driver = {
  name: 'openai',
  format: 'openai',
  showsReasoningContent: true,
  start(baseURL, ask) {
    const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: ask.prompt }];
    const tools = offered(ask.tools).map((c) => ({ type: 'function' as const, function: { name: c.name, parameters: SCHEMA } }));
    let last: Observation | undefined;
    const run = async (): Promise<Observation> => {
      const o: Observation = { text: '', toolCalls: [], reasoning: '' };
      const calls: { id: string; name: string; args: string }[] = [];
      try {
        const stream = await client.chat.completions.create({
          model: ask.model,
          messages,
          stream: true,
          stream_options: { include_usage: true },
          ...(tools.length ? { tools } : {}),
          ...(ask.reasoning ? { reasoning_effort: 'low' as const } : {}),
        });
        for await (const chunk of stream) {
          const c = chunk.choices[0];
          if (c) {
            o.text += c.delta.content ?? '';
            o.reasoning += (c.delta as { reasoning_content?: string }).reasoning_content ?? '';
            for (const tc of c.delta.tool_calls ?? []) {
              const call = (calls[tc.index] ??= { id: '', name: '', args: '' });
              if (tc.id) call.id = tc.id;
              if (tc.function?.name) call.name = tc.function.name;
              call.args += tc.function?.arguments ?? '';
            }
            if (c.finish_reason) o.finish = finishOf(c.finish_reason);
          }
          if (chunk.usage) o.usage = { input: chunk.usage.prompt_tokens, output: chunk.usage.completion_tokens, cacheRead: chunk.usage.prompt_tokens_details?.cached_tokens };
        }
      } catch (e) {
        o.error = failure(e);
      }
      o.toolCalls = calls.map((c) => ({ id: c.id, name: c.name, args: JSON.parse(c.args || '{}') as unknown }));
      messages.push({
        role: 'assistant',
        content: o.text || null,
        ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.args } })) } : {}),
      });
      return (last = o);
    };
    return {
      first: run,
      async second() {
        for (const c of last?.toolCalls ?? []) messages.push({ role: 'tool', tool_call_id: c.id, content: TOOL_RESULT[c.name] ?? '' });
        return run();
      },
    };
  },
};

// --- the official Anthropic SDK ----------------------------------------------------------------
const anthropicSdk: Driver = {
  name: 'anthropic',
  format: 'anthropic',
  showsReasoningContent: true,
  start(baseURL, ask) {
    const client = new Anthropic({ baseURL, apiKey: 'unused', maxRetries: 0 });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: ask.prompt }];
    const tools = offered(ask.tools).map((c) => ({ name: c.name, input_schema: SCHEMA }));
    let last: Anthropic.Message | undefined;
    const run = async (): Promise<Observation> => {
      const o: Observation = { text: '', toolCalls: [], reasoning: '' };
      const stream = client.messages.stream({
        model: ask.model,
        max_tokens: 2048,
        messages,
        ...(tools.length ? { tools } : {}),
        ...(ask.reasoning ? { thinking: { type: 'enabled' as const, budget_tokens: 1024 } } : {}),
      });
      stream.on('text', (t) => (o.text += t));
      try {
        const m = await stream.finalMessage();
        last = m;
        for (const b of m.content) {
          if (b.type === 'thinking') o.reasoning += b.thinking;
          if (b.type === 'tool_use') o.toolCalls.push({ id: b.id, name: b.name, args: b.input });
        }
        o.finish = finishOf(m.stop_reason);
        o.usage = { input: m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0) + (m.usage.cache_creation_input_tokens ?? 0), output: m.usage.output_tokens, cacheRead: m.usage.cache_read_input_tokens ?? undefined };
        messages.push({ role: 'assistant', content: m.content });
      } catch (e) {
        o.error = failure(e);
      }
      return o;
    };
    return {
      first: run,
      async second() {
        const uses = (last?.content ?? []).filter((b) => b.type === 'tool_use');
        messages.push({ role: 'user', content: uses.map((b) => ({ type: 'tool_result' as const, tool_use_id: b.id, content: TOOL_RESULT[b.name] ?? '' })) });
        return run();
      },
    };
  },
};

// --- the Vercel AI SDK -------------------------------------------------------------------------
function aiSdk(name: string, format: ClientFormat, showsReasoningContent: boolean, model: (baseURL: string, id: string) => LanguageModel, reasoningOptions: Record<string, Record<string, JSONValue>>): Driver {
  return {
    name,
    format,
    showsReasoningContent,
    start(baseURL, ask) {
      const messages: ModelMessage[] = [{ role: 'user', content: ask.prompt }];
      const tools = Object.fromEntries(offered(ask.tools).map((c) => [c.name, tool({ inputSchema: jsonSchema<{ city: string }>(SCHEMA) })]));
      let calls: Observation['toolCalls'] = [];
      const run = async (): Promise<Observation> => {
        const o: Observation = { text: '', toolCalls: [], reasoning: '' };
        const result = streamText({
          model: model(baseURL, ask.model),
          messages,
          ...(ask.tools ? { tools } : {}),
          ...(format === 'anthropic' ? { maxOutputTokens: 2048 } : {}),
          ...(ask.reasoning ? { providerOptions: reasoningOptions } : {}),
          maxRetries: 0,
        });
        for await (const part of result.fullStream) {
          if (part.type === 'text-delta') o.text += part.text;
          else if (part.type === 'reasoning-delta') o.reasoning += part.text;
          else if (part.type === 'tool-call') o.toolCalls.push({ id: part.toolCallId, name: part.toolName, args: part.input });
          else if (part.type === 'finish') {
            o.finish = finishOf(part.finishReason);
            o.usage = { input: part.totalUsage.inputTokens, output: part.totalUsage.outputTokens, cacheRead: part.totalUsage.inputTokenDetails.cacheReadTokens };
          } else if (part.type === 'error') o.error = failure(part.error);
        }
        if (!o.error) messages.push(...(await result.response).messages);
        calls = o.toolCalls;
        return o;
      };
      return {
        first: run,
        async second() {
          messages.push({
            role: 'tool',
            content: calls.map((c) => ({ type: 'tool-result' as const, toolCallId: c.id, toolName: c.name, output: { type: 'text' as const, value: TOOL_RESULT[c.name] ?? '' } })),
          });
          return run();
        },
      };
    },
  };
}

const aiOpenAI = aiSdk('ai-sdk/openai', 'openai', false, (baseURL, id) => createOpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused' }).chat(id), { openai: { reasoningEffort: 'low' } });
const aiAnthropic = aiSdk('ai-sdk/anthropic', 'anthropic', true, (baseURL, id) => createAnthropic({ baseURL: `${baseURL}/v1`, apiKey: 'unused' })(id), {
  anthropic: { thinking: { type: 'enabled', budgetTokens: 1024 } },
});
const aiCompatible = aiSdk(
  'ai-sdk/compatible',
  'openai',
  true,
  (baseURL, id) => createOpenAICompatible({ name: 'airoute', baseURL: `${baseURL}/v1`, apiKey: 'unused', includeUsage: true }).chatModel(id),
  { airoute: { reasoningEffort: 'low' } },
);

// --- LangChain JS ------------------------------------------------------------------------------
function langchain(name: string, format: ClientFormat, make: (baseURL: string, ask: Ask) => ChatOpenAI | ChatAnthropic): Driver {
  return {
    name,
    format,
    showsReasoningContent: true,
    start(baseURL, ask) {
      const base = make(baseURL, ask);
      const defs = offered(ask.tools).map((c) => ({ type: 'function' as const, function: { name: c.name, description: `${c.name} for a city`, parameters: SCHEMA } }));
      const model = defs.length ? base.bindTools(defs) : base;
      const messages: BaseMessage[] = [new HumanMessage(ask.prompt)];
      let last: AIMessageChunk | undefined;
      const run = async (): Promise<Observation> => {
        const o: Observation = { text: '', toolCalls: [], reasoning: '' };
        let all: AIMessageChunk | undefined;
        try {
          for await (const chunk of await model.stream(messages)) {
            all = all ? all.concat(chunk) : chunk;
            o.text += typeof chunk.content === 'string' ? chunk.content : chunk.content.map((b) => (b.type === 'text' && 'text' in b ? String(b.text) : '')).join('');
          }
        } catch (e) {
          o.error = failure(e);
        }
        if (all && !o.error) {
          last = all;
          messages.push(all);
          o.toolCalls = (all.tool_calls ?? []).map((c) => ({ id: c.id ?? '', name: c.name, args: c.args }));
          const meta = all.response_metadata as { finish_reason?: string; stop_reason?: string };
          o.finish = finishOf(meta.finish_reason ?? meta.stop_reason ?? (all.additional_kwargs as { stop_reason?: string }).stop_reason);
          const u = all.usage_metadata;
          if (u) o.usage = { input: u.input_tokens, output: u.output_tokens, cacheRead: u.input_token_details?.cache_read };
          const rc = (all.additional_kwargs as { reasoning_content?: string }).reasoning_content;
          if (rc) o.reasoning += rc;
          if (Array.isArray(all.content)) for (const b of all.content) if (b.type === 'thinking' && 'thinking' in b) o.reasoning += String(b.thinking);
        }
        return o;
      };
      return {
        first: run,
        async second() {
          for (const c of last?.tool_calls ?? []) messages.push(new ToolMessage({ tool_call_id: c.id ?? '', content: TOOL_RESULT[c.name] ?? '' }));
          return run();
        },
      };
    },
  };
}

const lcOpenAI = langchain(
  'langchain/openai',
  'openai',
  (baseURL, ask) => new ChatOpenAI({ model: ask.model, apiKey: 'unused', configuration: { baseURL: `${baseURL}/v1` }, maxRetries: 0, ...(ask.reasoning ? { reasoning: { effort: 'low' } } : {}) }),
);
const lcAnthropic = langchain(
  'langchain/anthropic',
  'anthropic',
  (baseURL, ask) =>
    new ChatAnthropic({
      model: ask.model,
      apiKey: 'unused',
      anthropicApiUrl: baseURL,
      maxRetries: 0,
      maxTokens: 2048,
      ...(ask.reasoning ? { thinking: { type: 'enabled', budget_tokens: 1024 } } : {}),
    }),
);

export const DRIVERS: readonly Driver[] = [openaiSdk, aiOpenAI, aiCompatible, lcOpenAI, anthropicSdk, aiAnthropic, lcAnthropic];
