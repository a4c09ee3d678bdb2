// Streams one request through the official SDKs and records what the client actually saw: every
// text delta in order, the final message if it completed, and the error if the SDK raised one.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

export type ClientKind = 'openai' | 'anthropic';

export interface Transcript {
  deltas: string[];
  text: string;
  completed: boolean;
  finish?: string | null;
  model?: string;
  usage?: { input: number; output: number };
  error?: { status?: number; message: string; type?: string; code?: string | null };
  headers?: Headers;
}

export interface StreamOptions {
  model: string;
  prompt?: string;
  signal?: AbortSignal;
  onDelta?: (text: string) => void;
}

export async function streamWith(kind: ClientKind, baseURL: string, opts: StreamOptions): Promise<Transcript> {
  const t: Transcript = { deltas: [], text: '', completed: false };
  const add = (d: string) => {
    if (!d) return;
    t.deltas.push(d);
    t.text += d;
    opts.onDelta?.(d);
  };
  try {
    if (kind === 'openai') {
      const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const { data: stream, response } = await client.chat.completions
        .create(
          { model: opts.model, messages: [{ role: 'user', content: opts.prompt ?? 'Tell me something.' }], stream: true, stream_options: { include_usage: true } },
          opts.signal ? { signal: opts.signal } : {},
        )
        .withResponse();
      t.headers = response.headers;
      for await (const chunk of stream) {
        add(chunk.choices[0]?.delta.content ?? '');
        if (chunk.choices[0]?.finish_reason) t.finish = chunk.choices[0].finish_reason;
        if (chunk.model) t.model = chunk.model;
        if (chunk.usage) t.usage = { input: chunk.usage.prompt_tokens, output: chunk.usage.completion_tokens };
      }
    } else {
      const client = new Anthropic({ baseURL, apiKey: 'unused', maxRetries: 0 });
      const stream = client.messages.stream(
        { model: opts.model, max_tokens: 1024, messages: [{ role: 'user', content: opts.prompt ?? 'Tell me something.' }] },
        opts.signal ? { signal: opts.signal } : {},
      );
      stream.on('text', add);
      const m = await stream.finalMessage();
      t.finish = m.stop_reason;
      t.model = m.model;
      t.usage = { input: m.usage.input_tokens, output: m.usage.output_tokens };
    }
    // The SDKs end iteration quietly when the caller aborts; that is not a completed answer.
    if (opts.signal?.aborted) t.error = { message: 'aborted by the client' };
    else t.completed = true;
  } catch (err) {
    const e = err as { status?: number; message: string; error?: { type?: string; code?: string; error?: { type?: string } }; code?: string | null; type?: string };
    t.error = {
      ...(e.status !== undefined ? { status: e.status } : {}),
      message: e.message,
      type: e.type ?? e.error?.type ?? e.error?.error?.type,
      code: e.code ?? e.error?.code ?? null,
    };
  }
  return t;
}
