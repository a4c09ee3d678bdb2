// The parameter table (sidecar/wire/parameters.ts, shown in docs/translation.md) checked against
// the adapters: every client parameter it lists is sent, as the client would send it, through the
// real client codec and each backend's real adapter, and the upstream body must hold the field
// the cell names, or the request must be refused with a 400 naming the parameter, or the
// parameter must be left out, as the cell says. A backend of the client's own format gets the
// client's body as sent.
import { describe, expect, test } from 'vitest';
import type { ClientFormat as AnyClientFormat, JsonObject } from '../sidecar/chat/types.ts';
import { AirouteError } from '../sidecar/errors.ts';
import { PROVIDERS } from '../sidecar/providers/index.ts';
import type { ResolvedBackend } from '../sidecar/providers/types.ts';
import { CLIENT_CODECS } from '../sidecar/wire/clients.ts';
import { PARAMETERS, TABLE_BACKENDS, type Cell, type TableBackend } from '../sidecar/wire/parameters.ts';

/** The table covers the Chat Completions and Messages parameters; the Responses API's are in its codec (wire/responses/client-request.ts). */
type ClientFormat = Exclude<AnyClientFormat, 'responses'>;

const TOOLS: Record<ClientFormat, JsonObject> = {
  openai: { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }] },
  anthropic: { tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }] },
};

const PDF_BASE64 = Buffer.from('%PDF-1.7 invoice').toString('base64');

/** Each client parameter of the table as a client sends it: a fragment of the request body. */
const EXAMPLES: Record<ClientFormat, Record<string, JsonObject>> = {
  openai: {
    'messages[].role: system / developer': { messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] },
    'messages[].content[].type: file': {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Total?' }, { type: 'file', file: { filename: 'invoice.pdf', file_data: `data:application/pdf;base64,${PDF_BASE64}` } }] }],
    },
    max_completion_tokens: { max_completion_tokens: 300 },
    max_tokens: { max_tokens: 300 },
    temperature: { temperature: 0.5 },
    top_p: { top_p: 0.9 },
    stop: { stop: ['END'] },
    n: { n: 2 },
    seed: { seed: 7 },
    presence_penalty: { presence_penalty: 0.5 },
    frequency_penalty: { frequency_penalty: 0.5 },
    tools: TOOLS.openai,
    tool_choice: { ...TOOLS.openai, tool_choice: 'required' },
    parallel_tool_calls: { ...TOOLS.openai, parallel_tool_calls: false },
    response_format: { response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object' } } } },
    reasoning_effort: { reasoning_effort: 'low' },
    user: { user: 'user-42' },
    safety_identifier: { safety_identifier: 'user-42' },
    'stream_options.include_usage': { stream: true, stream_options: { include_usage: true } },
    store: { store: true },
    metadata: { metadata: { team: 'search' } },
    prompt_cache_key: { prompt_cache_key: 'k1' },
    prompt_cache_retention: { prompt_cache_retention: '24h' },
    logprobs: { logprobs: true },
    top_logprobs: { logprobs: true, top_logprobs: 2 },
    logit_bias: { logit_bias: { '50256': -100 } },
    modalities: { modalities: ['text', 'audio'] },
    audio: { audio: { voice: 'alloy', format: 'wav' } },
    prediction: { prediction: { type: 'content', content: 'x' } },
    web_search_options: { web_search_options: {} },
    service_tier: { service_tier: 'flex' },
    verbosity: { verbosity: 'low' },
    functions: { functions: [{ name: 'f', parameters: {} }] },
    function_call: { function_call: 'auto' },
  },
  anthropic: {
    system: { system: [{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Use metric units.' }] },
    'messages[].role: system': { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] },
    'messages[].content[].type: document': {
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF_BASE64 } }, { type: 'text', text: 'Total?' }] }],
    },
    max_tokens: { max_tokens: 300 },
    temperature: { temperature: 0.5 },
    top_p: { top_p: 0.9 },
    top_k: { top_k: 40 },
    stop_sequences: { stop_sequences: ['END'] },
    tools: TOOLS.anthropic,
    tool_choice: { ...TOOLS.anthropic, tool_choice: { type: 'any' } },
    'tool_choice.disable_parallel_tool_use': { ...TOOLS.anthropic, tool_choice: { type: 'auto', disable_parallel_tool_use: true } },
    'output_config.format': { output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } },
    thinking: { max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 } },
    'output_config.effort': { output_config: { effort: 'high' } },
    'metadata.user_id': { metadata: { user_id: 'user-42' } },
    cache_control: { cache_control: { type: 'ephemeral' } },
    container: { container: 'container_1' },
    mcp_servers: { mcp_servers: [{ type: 'url', url: 'https://mcp.example.com', name: 'x' }] },
    service_tier: { service_tier: 'standard_only' },
    context_management: { context_management: { edits: [] } },
    inference_geo: { inference_geo: 'us' },
    speed: { speed: 'fast' },
  },
};

const BASE: Record<ClientFormat, JsonObject> = {
  openai: { model: 'route', messages: [{ role: 'user', content: 'Hi' }] },
  anthropic: { model: 'route', max_tokens: 1024, messages: [{ role: 'user', content: 'Hi' }] },
};

const FORMAT_OF: Record<TableBackend, ClientFormat | 'gemini'> = {
  openai: 'openai',
  'azure-openai': 'openai',
  'openai-compatible': 'openai',
  anthropic: 'anthropic',
  gemini: 'gemini',
};

function backend(type: TableBackend): ResolvedBackend {
  return { name: 'b', type, baseURL: 'http://127.0.0.1:1', apiKey: 'k', headers: {}, demo: { tokens: 1, tokensPerSecond: 1 } };
}

/** The upstream body the adapter builds for this client body, or the AirouteError it refuses it with. */
function send(format: ClientFormat, body: JsonObject, type: TableBackend): JsonObject | AirouteError {
  try {
    const req = CLIENT_CODECS[format].decodeRequest(body);
    if (req.operation !== 'chat') throw new Error('a chat request was expected');
    return JSON.parse(PROVIDERS[type].chatRequest(req, backend(type), 'upstream-model', { stream: req.stream }).body) as JsonObject;
  } catch (e) {
    if (e instanceof AirouteError) return e;
    throw e;
  }
}

/** Whether `path` (dots, `[]` for "some element", `: value` for the value there) is in the body. */
function holds(body: unknown, path: string): boolean {
  const [where, want] = path.split(': ') as [string, string | undefined];
  const walk = (v: unknown, segs: string[]): boolean => {
    if (segs.length === 0) return want === undefined ? v !== undefined : v === want;
    const [head, ...rest] = segs as [string, ...string[]];
    const many = head.endsWith('[]');
    const key = many ? head.slice(0, -2) : head;
    const next = typeof v === 'object' && v !== null ? (v as JsonObject)[key] : undefined;
    return many ? Array.isArray(next) && next.some((x) => walk(x, rest)) : walk(next, rest);
  };
  return walk(body, where.split('.'));
}

function expectCell(cell: Cell, out: JsonObject | AirouteError, param: string, sent: JsonObject): void {
  if (cell === null) {
    expect(out, `${param} must be refused`).toBeInstanceOf(AirouteError);
    const err = out as AirouteError;
    expect([err.status, err.message]).toEqual([400, expect.stringContaining(param.split('.')[0]!)]);
    return;
  }
  expect(out, `${param} must be sent: ${out instanceof AirouteError ? out.message : ''}`).not.toBeInstanceOf(AirouteError);
  const body = out as JsonObject;
  if (typeof cell === 'string') {
    if (cell === 'as sent') for (const k of Object.keys(sent)) expect(body[k]).toEqual(sent[k]);
    else expect(holds(body, cell), `${param} → ${cell} in ${JSON.stringify(body)}`).toBe(true);
  } else for (const k of Object.keys(sent)) if (k !== 'messages' && k !== 'stream' && k !== 'max_tokens') expect(body[k], `${param} is left out`).toBeUndefined();
}

const CASES = PARAMETERS.flatMap((row) =>
  (Object.entries(row.client) as [ClientFormat, string[]][]).flatMap(([format, params]) =>
    params.flatMap((param) => TABLE_BACKENDS.map((type) => ({ row, format, param, type }))),
  ),
);

describe('every cell of the parameter table, through the real codecs and adapters', () => {
  test.each(CASES.map((c) => [`${c.format} ${c.param} -> ${c.type}`, c] as const))('%s', (_name, { row, format, param, type }) => {
    const fragment = EXAMPLES[format][param];
    expect(fragment, `an example for ${format} ${param}`).toBeDefined();
    const sent = { ...BASE[format], ...fragment };
    const out = send(format, sent, type);
    if (FORMAT_OF[type] === format) {
      // Same format: the client's own body, with the model replaced.
      expect(out).not.toBeInstanceOf(AirouteError);
      for (const [k, v] of Object.entries(sent)) if (k !== 'model' && k !== 'stream') expect((out as JsonObject)[k]).toEqual(v);
      return;
    }
    expectCell(row.backend[type], out, param, fragment!);
  });
});

test('every example is a row of the table (no example for a parameter the table does not list)', () => {
  for (const format of ['openai', 'anthropic'] as const) {
    const listed = new Set(PARAMETERS.flatMap((r) => r.client[format] ?? []));
    expect(Object.keys(EXAMPLES[format]).filter((p) => !listed.has(p))).toEqual([]);
  }
});

test('a parameter the table does not list is refused on translation, by its name', () => {
  const out = send('openai', { ...BASE.openai, brand_new_knob: 1 }, 'anthropic');
  expect(out).toBeInstanceOf(AirouteError);
  expect((out as AirouteError).message).toBe('unsupported parameter(s), with no equivalent in the Anthropic format: brand_new_knob');
});
