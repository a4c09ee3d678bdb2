// The conformance matrix: clients this project did not write (test/conformance/clients.ts) against
// mock upstreams that replay each provider's documented stream shapes (upstreams.ts), through one
// real sidecar. Rows are features, columns are client x backend (the client's own format, and each
// translation). A cell passes, or is a documented 400 (a refusal naming a parameter the backend
// has no equivalent for), or is a documented gap listed in GAPS with its reason; anything else
// fails the suite. The matrix is printed at the end (docs/conformance.md explains it).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ClientFormat as AnyClientFormat } from '../../sidecar/chat/types.ts';
import { PARAMETERS } from '../../sidecar/wire/parameters.ts';
import type { Recorded } from '../support/replay-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';
import { DRIVERS, TOOL_RESULT, type Driver, type Observation } from './clients.ts';
import { AFTER_TOOLS, ANSWER, CALLS, FEATURES, PARTIAL, SIGNATURE, startUpstreams, THOUGHT, USAGE, type Feature, type Upstreams } from './upstreams.ts';

/** Chat Completions and Messages clients (the Responses API has its own suites under test/responses/). */
type ClientFormat = Exclude<AnyClientFormat, 'responses'>;

const BACKENDS = ['openai', 'anthropic', 'gemini'] as const;
type Backend = (typeof BACKENDS)[number];

/** Route names a client of each format sends; the names let each library recognise a reasoning model. */
const MODEL: Record<ClientFormat, Record<Backend, string>> = {
  openai: { openai: 'gpt-5-mini', anthropic: 'gpt-5-mini-claude', gemini: 'gpt-5-mini-gemini' },
  anthropic: { anthropic: 'claude-sonnet-4-5', openai: 'claude-sonnet-4-5-gpt', gemini: 'claude-sonnet-4-5-gemini' },
};
const UPSTREAM_MODEL: Record<Backend, string> = { openai: 'gpt-5-mini', anthropic: 'claude-sonnet-4-5', gemini: 'gemini-3-pro-preview' };

/**
 * Documented gaps: what the client sees, and why it cannot be otherwise. LangChain's ChatAnthropic
 * reads the input count from message_start only (@langchain/anthropic utils/message_outputs.js);
 * an OpenAI-format upstream reports usage after its last token, so a translated stream can carry
 * the input count only in message_delta (which the Anthropic SDK and the AI SDK read) unless the
 * sidecar held the whole answer back.
 */
const GAPS: Record<string, { reason: string; seen: (o: Observation) => boolean }> = {};
for (const feature of ['text', 'cache usage'] as const)
  GAPS[`langchain/anthropic|openai|${feature}`] = {
    reason: 'input tokens 0: LangChain reads them from message_start, which an OpenAI upstream cannot fill in time',
    seen: (o) => o.usage?.input === 0 && o.usage.output === USAGE.output,
  };

type State = 'pass' | '400' | 'gap' | 'fail';
interface Outcome {
  state: State;
  detail: string;
}

let up: Upstreams;
let sc: TestSidecar;
const matrix = new Map<string, Outcome>();
const key = (feature: Feature, driver: Driver, backend: Backend) => `${driver.name}|${backend}|${feature}`;

beforeAll(async () => {
  up = await startUpstreams();
  const target = (backend: Backend) => ({ backend: backend.slice(0, 2), model: UPSTREAM_MODEL[backend] });
  sc = await testSidecar({
    backends: [
      { name: 'op', type: 'openai', baseURL: `${up.openai.url}/v1`, apiKey: { value: 'sk-conformance-openai' } },
      { name: 'an', type: 'anthropic', baseURL: up.anthropic.url, apiKey: { value: 'sk-ant-conformance' } },
      { name: 'ge', type: 'gemini', baseURL: up.gemini.url, apiKey: { value: 'AIzaConformance0123456789' } },
    ],
    // One attempt and no resume: a mid-stream error must reach the client as the error it is.
    routes: (['openai', 'anthropic'] as const).flatMap((format) =>
      BACKENDS.map((backend) => ({ model: MODEL[format][backend], backends: [target(backend)], retry: { attempts: 1 }, resume: 'none' })),
    ),
  });
});

afterAll(async () => {
  printMatrix();
  await sc?.close();
  await Promise.all(Object.values(up ?? {}).map((u) => u.stop()));
});

/** Compares what a client saw with what it should have, collecting every difference. */
class Check {
  readonly problems: string[] = [];
  eq(what: string, actual: unknown, expected: unknown): void {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) this.problems.push(`${what}: ${JSON.stringify(actual)} instead of ${JSON.stringify(expected)}`);
  }
  ok(what: string, cond: boolean): void {
    if (!cond) this.problems.push(what);
  }
  answered(o: Observation, turn: string): boolean {
    if (o.error) this.problems.push(`${turn}: ${o.error.status ?? ''} ${o.error.message}`.slice(0, 300));
    return !o.error;
  }
}

const calls = (o: Observation) => o.toolCalls.map((c) => ({ name: c.name, args: c.args }));
const expectedCalls = (n: number) => CALLS.slice(0, n).map((c) => ({ name: c.name, args: c.args }));

/** The upstream got each tool result tied to its call, in its own format. */
function resultsTied(backend: Backend, req: Recorded, n: number): boolean {
  const body = req.body as Record<string, unknown>;
  const wanted = CALLS.slice(0, n);
  if (backend === 'openai') {
    const msgs = body.messages as { role: string; tool_call_id?: string; content?: unknown; tool_calls?: { id: string; function: { name: string } }[] }[];
    const calls = msgs.flatMap((m) => m.tool_calls ?? []);
    return wanted.every((c) => msgs.some((m) => m.role === 'tool' && m.content === TOOL_RESULT[c.name] && calls.find((tc) => tc.id === m.tool_call_id)?.function.name === c.name));
  }
  if (backend === 'anthropic') {
    const blocks = (body.messages as { content: unknown }[]).flatMap((m) => (Array.isArray(m.content) ? (m.content as Record<string, unknown>[]) : []));
    return wanted.every((c) => blocks.some((b) => b.type === 'tool_result' && JSON.stringify(b.content).includes(TOOL_RESULT[c.name]!) && blocks.some((u) => u.type === 'tool_use' && u.id === b.tool_use_id && u.name === c.name)));
  }
  const parts = (body.contents as { parts: Record<string, unknown>[] }[]).flatMap((c) => c.parts);
  return wanted.every((c) => parts.some((p) => (p.functionResponse as { name?: string } | undefined)?.name === c.name && JSON.stringify(p.functionResponse).includes(TOOL_RESULT[c.name]!)));
}

/** The reasoning knob in the upstream's own format. */
function reasoningAsked(backend: Backend, req: Recorded): boolean {
  const b = req.body as Record<string, unknown>;
  if (backend === 'openai') return typeof b.reasoning_effort === 'string';
  if (backend === 'anthropic') return (b.thinking as { type?: string } | undefined)?.type === 'enabled';
  return (b.generationConfig as { thinkingConfig?: unknown } | undefined)?.thinkingConfig !== undefined;
}

/** Reasoning text the client should show: the upstream produced some and the library shows it. */
function reasoningShown(driver: Driver, backend: Backend): boolean {
  if (backend === 'openai') return false; // Chat Completions streams no reasoning text
  if (backend === 'gemini') return driver.format === 'anthropic'; // thought summaries are asked for where the client shows thinking
  return driver.format === 'anthropic' || driver.showsReasoningContent;
}

async function runCell(feature: Feature, driver: Driver, backend: Backend): Promise<Outcome> {
  const upstream = up[backend];
  const tools = feature === 'tools' || feature === 'thinking' ? 1 : feature === 'parallel tools' ? 2 : 0;
  const ask = { model: MODEL[driver.format][backend], prompt: `Where and when? (conformance:${feature.replace(/ /g, '_')})`, tools, reasoning: feature === 'thinking' };
  // Same format: the client must see exactly what it sees talking to the provider directly
  // (its own arithmetic included: LangChain adds message_start's placeholder output token).
  const direct = driver.format === backend ? await converse(driver.start(upstream.url, ask), tools > 0) : undefined;
  const from = upstream.received.length;
  const conv = driver.start(sc.dataURL, ask);
  const first = await conv.first();
  if (first.error?.status === 400 && /unsupported parameter/.test(first.error.message)) {
    const undocumented = refusedParameters(first.error.message).filter((p) => !documentedRefusal(driver.format, p, backend));
    return undocumented.length ? { state: 'fail', detail: `refused ${undocumented.join(', ')}, which the parameter table maps` } : { state: '400', detail: first.error.message };
  }
  const c = new Check();
  const gap = GAPS[key(feature, driver, backend)];
  switch (feature) {
    case 'text':
    case 'cache usage': {
      if (!c.answered(first, 'answer')) break;
      c.eq('text', first.text, ANSWER);
      c.eq('finish', first.finish, 'stop');
      const usage = feature === 'text' ? { input: USAGE.input, output: direct?.[0]?.usage?.output ?? USAGE.output } : { input: USAGE.input, cacheRead: USAGE.cached };
      const seen = feature === 'text' ? { input: first.usage?.input, output: first.usage?.output } : { input: first.usage?.input, cacheRead: first.usage?.cacheRead };
      if (gap && JSON.stringify(seen) !== JSON.stringify(usage) && gap.seen(first) && c.problems.length === 0) return { state: 'gap', detail: gap.reason };
      c.eq('usage', seen, usage);
      break;
    }
    case 'error mid-stream':
      c.ok('the client saw no error', first.error !== undefined);
      c.eq('text before the error', first.text, PARTIAL);
      break;
    case 'tools':
    case 'parallel tools':
    case 'thinking': {
      if (!c.answered(first, 'first turn')) break;
      c.eq('tool calls', calls(first), expectedCalls(tools));
      c.eq('first finish', first.finish, 'tool_calls');
      if (feature === 'thinking') {
        c.ok(`the ${backend} upstream was not asked to reason`, reasoningAsked(backend, upstream.received[from]!));
        if (reasoningShown(driver, backend)) c.eq('reasoning shown', first.reasoning.trim(), THOUGHT);
        else c.eq('reasoning shown', first.reasoning, '');
      }
      const second = await conv.second();
      if (!c.answered(second, 'second turn')) break;
      if (direct) c.eq('second turn, as direct', strip(second), strip(direct[1]));
      c.eq('answer after the tools', second.text, AFTER_TOOLS);
      c.eq('second finish', second.finish, 'stop');
      const req = upstream.received.at(-1)!;
      c.ok('the upstream did not get each tool result tied to its call', resultsTied(backend, req, tools));
      if (feature === 'thinking' && backend === 'anthropic') {
        // An Anthropic client carries Claude's signed thinking back; a client of another format
        // cannot, and the sidecar turns thinking off for that turn, as Anthropic's own error advises.
        const assistant = (req.body.messages as { role: string; content: unknown }[]).filter((m) => m.role === 'assistant').at(-1);
        const firstBlock = Array.isArray(assistant?.content) ? (assistant.content as { type: string; signature?: string }[])[0] : undefined;
        if (driver.format === 'anthropic') c.eq('signed thinking carried back', [firstBlock?.type, firstBlock?.signature], ['thinking', SIGNATURE.anthropic]);
        else c.eq('thinking on the turn that cannot carry it', req.body.thinking, undefined);
      }
      break;
    }
  }
  if (direct) c.eq('as direct', strip(first), strip(direct[0]));
  return c.problems.length ? { state: 'fail', detail: c.problems.join('; ') } : { state: 'pass', detail: '' };
}

/** The parameters a refusal names (`... format: a, b`). */
function refusedParameters(message: string): string[] {
  return (/format: ([^"}]+)/.exec(message)?.[1] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}

/** A refusal is documented when the table says the backend has no equivalent, or lists no such parameter at all. */
function documentedRefusal(format: ClientFormat, param: string, backend: Backend): boolean {
  const row = PARAMETERS.find((r) => r.client[format]?.includes(param));
  return !row || row.backend[backend] === null;
}

/** A conversation straight to the provider: the first answer, and the second after tools. */
async function converse(conv: ReturnType<Driver['start']>, tools: boolean): Promise<Observation[]> {
  const first = await conv.first();
  return tools && !first.error ? [first, await conv.second()] : [first];
}

/** What must be identical through the sidecar and direct (an error's wording is the sidecar's own). */
function strip(o: Observation | undefined): unknown {
  if (!o) return undefined;
  const { error, ...rest } = o;
  return { ...rest, error: error !== undefined };
}

for (const feature of FEATURES)
  describe(feature, () => {
    for (const driver of DRIVERS)
      for (const backend of BACKENDS)
        test(`${driver.name} -> ${backend}${driver.format === backend ? ' (same format)' : ''}`, async () => {
          const outcome = await runCell(feature, driver, backend);
          matrix.set(key(feature, driver, backend), outcome);
          expect(outcome.state, outcome.detail).not.toBe('fail');
        });
  });

test('every cell of the matrix ran, and none failed', () => {
  expect(matrix.size).toBe(FEATURES.length * DRIVERS.length * BACKENDS.length);
  expect([...matrix].filter(([, o]) => o.state === 'fail').map(([k, o]) => `${k}: ${o.detail}`)).toEqual([]);
});

const SYMBOL: Record<State, string> = { pass: 'ok', '400': '400', gap: 'gap', fail: 'FAIL' };

function printMatrix(): void {
  const cols = DRIVERS.flatMap((d) => BACKENDS.map((b) => ({ d, b })));
  const width = 5;
  const feat = Math.max(...FEATURES.map((f) => f.length)) + 2;
  const lines = [
    'conformance matrix (columns: client, then backend; * = the client\'s own format)',
    ' '.repeat(feat) + DRIVERS.map((d) => d.name.padEnd(width * BACKENDS.length)).join(''),
    ' '.repeat(feat) + cols.map(({ d, b }) => `${b.slice(0, 3)}${d.format === b ? '*' : ''}`.padEnd(width)).join(''),
    ...FEATURES.map((f) => f.padEnd(feat) + cols.map(({ d, b }) => SYMBOL[matrix.get(key(f, d, b))?.state ?? 'fail'].padEnd(width)).join('')),
    ...[...matrix].filter(([, o]) => o.state !== 'pass').map(([k, o]) => `  ${k}: ${o.state}: ${o.detail}`),
  ];
  console.log(lines.join('\n'));
}
