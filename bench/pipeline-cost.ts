// `npm run bench:pipeline`: what the sidecar's own code costs per request, sockets left out.
// The real data path (decode, the stage chain, attempt, tally, events into the memory journal,
// metrics, the terminal event) runs against an in-memory upstream that answers like the benchmark
// mock, and writes into a sink that only counts bytes. In one process, with no syscalls, the
// figure is steady enough to compare two commits (the end-to-end benchmarks on a shared 2-core VM
// move ±20 % from run to run); it is the part of the per-request CPU that this code can change.
//
// --prompt-kb N sends a conversation of about N KiB (an agent's context, tool results) instead of
// one short question: what a request costs that grows with its prompt (parsing, the body sent
// upstream) shows there. --reserialise hands the pipeline no body text, so a same-format body is
// serialised again from the parsed object (what the sidecar did before it spliced; to compare).
// --latency runs one request at a time and reports what the code adds to a request's time to
// first byte: from the body in hand to the upstream request, plus from the upstream's first
// content to the client's first write (p50/p99; the loopback figures add the VM's sockets and
// scheduling to this, and move by milliseconds from run to run on their own). --no-journal leaves
// the memory journal out (what the sidecar's --disable-journal does): the journal's share.
//
//   node bench/pipeline-cost.ts [--requests 20000] [--concurrency 64] [--rounds 7] [--stream] [--prompt-kb 0] [--reserialise] [--latency] [--no-journal]
import { parseArgs } from 'node:util';
import pino from 'pino';
import { validateConfig } from '../api/v1alpha1/validate.ts';
import { compileConfig, envSecrets } from '../sidecar/config/runtime.ts';
import { MemoryJournal } from '../sidecar/events/journal.ts';
import { SidecarMetrics } from '../sidecar/metrics.ts';
import { parseJsonBody } from '../sidecar/net/body.ts';
import { deliver, type ClientSink } from '../sidecar/pipeline/deliver.ts';
import { openExchange } from '../sidecar/pipeline/open.ts';
import { Sidecar } from '../sidecar/sidecar.ts';
import type { UpstreamResponse } from '../sidecar/upstream/transport.ts';
import { CLIENT_CODECS } from '../sidecar/wire/clients.ts';
import { canonicalText, pieces } from './lib/common.ts';

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '7' },
    stream: { type: 'boolean', default: false },
    'prompt-kb': { type: 'string', default: '0' },
    reserialise: { type: 'boolean', default: false },
    latency: { type: 'boolean', default: false },
    'no-journal': { type: 'boolean', default: false },
  },
  strict: true,
});
const N = Number(flags.requests);
const LATENCY = flags.latency === true;
const C = LATENCY ? 1 : Number(flags.concurrency);
const STREAM = flags.stream === true;

const doc = validateConfig({
  backends: [{ name: 'up', type: 'openai-compatible', baseURL: 'http://127.0.0.1:1/v1', apiKey: { value: 'k' } }],
  routes: [{ model: 'bench', backends: [{ backend: 'up', model: 'm' }] }],
});
if (!doc.ok) throw new Error('bench config invalid');
const compiled = compileConfig(doc.value, 1, envSecrets({}));
if (!compiled.ok) throw new Error('bench config does not compile');
const config = compiled.config;
const route = config.routes.get('bench')!;

const sc = new Sidecar(pino({ level: 'warn' }));
sc.swap(config);
const journal = new MemoryJournal({ maxRequests: 4096, maxEventsPerRequest: 20_000, maxBytes: 32 * 1024 * 1024, ttlMs: 600_000 });
if (!flags['no-journal']) sc.onEvent((ev) => journal.append(ev));
new SidecarMetrics(sc, { journal: () => journal, asyncInFlight: () => 0 });

// The benchmark mock's answers, byte for byte (bench/upstream.ts).
const usage = '{"prompt_tokens":31,"completion_tokens":64,"total_tokens":95}';
const jsonAnswer = Buffer.from(
  `{"id":"chatcmpl-bench","object":"chat.completion","created":1760000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(canonicalText(64))},"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":${usage}}`,
);
const chunk = (delta: string, finish: string | null = null) =>
  `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1760000000,"model":"m","choices":[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]}\n\n`;
const streamAnswer = [chunk('{"role":"assistant","content":""}'), ...pieces(64, 0).map((p) => chunk(JSON.stringify({ content: p }))), chunk('{}', 'stop'), `data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1760000000,"model":"m","choices":[],"usage":${usage}}\n\n`, 'data: [DONE]\n\n'].map((s) => Buffer.from(s));

/** One request's clock (--latency, one request at a time): when it started, was sent upstream, got its first content, wrote its first byte. */
const clock = { start: 0, sent: 0, upstreamFirst: 0, clientFirst: 0 };
/** The chunk whose arrival completes the first content frame: a stream's first chunk only says the role. */
const FIRST_CONTENT = STREAM ? 1 : 0;

async function* bodyOf(chunks: readonly Buffer[]): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunks.length; i++) {
    if (i === FIRST_CONTENT) clock.upstreamFirst = performance.now();
    yield chunks[i]!;
  }
}
sc.transportFor = () => ({
  // The bytes a socket would take: the body is encoded as the real transport's write would.
  send: async (req): Promise<UpstreamResponse> => ((clock.sent = performance.now()), sends++, (sentBytes += Buffer.byteLength(req.body ?? '')), { status: 200, headers: { 'content-type': STREAM ? 'text/event-stream' : 'application/json' }, body: bodyOf(STREAM ? streamAnswer : [jsonAnswer]), discard: () => undefined }),
});

class CountingSink implements ClientSink {
  bytes = 0;
  closed = false;
  fail(): void {
    throw new Error('a benchmark request failed');
  }
  json(body: string): void {
    clock.clientFirst ||= performance.now();
    this.bytes += body.length;
  }
  open(): void {}
  write(chunk: string | Uint8Array): undefined {
    clock.clientFirst ||= performance.now();
    this.bytes += chunk.length;
    return undefined;
  }
  end(tail: string): void {
    this.bytes += tail.length;
  }
}

let sentBytes = 0;
let sends = 0;
const PROMPT_KB = Number(flags['prompt-kb']);
/** About PROMPT_KB KiB of turns: user questions, assistant answers with tool calls, tool results. */
function conversation(): unknown[] {
  const turns: unknown[] = [{ role: 'system', content: 'You are a careful assistant. Answer briefly.' }];
  for (let i = 0; JSON.stringify(turns).length < PROMPT_KB * 1024; i++)
    turns.push(
      { role: 'user', content: `Question ${i}: ${canonicalText(40)}` },
      { role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ query: `q${i}`, limit: 5 }) } }] },
      { role: 'tool', tool_call_id: `call_${i}`, content: JSON.stringify({ results: [canonicalText(30), canonicalText(20)] }) },
    );
  return [...turns, { role: 'user', content: 'Say something about proxies.' }];
}
const messages = PROMPT_KB > 0 ? conversation() : [{ role: 'user', content: 'Say something about proxies.' }];
const body = Buffer.from(JSON.stringify({ model: 'bench', ...(STREAM ? { stream: true } : {}), messages, max_tokens: 64 }));

async function one(): Promise<void> {
  clock.clientFirst = 0;
  clock.start = performance.now();
  const { body: parsed, raw } = parseJsonBody(body);
  const request = CLIENT_CODECS.openai.decodeRequest(parsed);
  if (!flags.reserialise) request.raw = raw;
  const x = openExchange(sc, sc.newRequestId(), request, route, config);
  await deliver(sc, x, new CountingSink());
  if (LATENCY) added.push(clock.sent - clock.start + (clock.clientFirst - clock.upstreamFirst));
}
/** --latency: each request's added time to first byte, ms. */
const added: number[] = [];

async function round(): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < N) {
      next++;
      await one();
    }
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: C }, worker));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / N;
}

await round(); // warm-up: JIT, journal at its bound
added.length = 0;
const perRequest: number[] = [];
for (let i = 0; i < Number(flags.rounds); i++) perRequest.push(await round());
perRequest.sort((a, b) => a - b);
if (LATENCY) {
  added.sort((a, b) => a - b);
  const at = (p: number) => (added[Math.min(added.length - 1, Math.floor((added.length * p) / 100))]! * 1000).toFixed(1);
  console.log(`added to the time to first byte by the sidecar's code, one request at a time (${added.length} requests): p50 ${at(50)} µs, p99 ${at(99)} µs, max ${at(100)} µs`);
}
const median = perRequest[Math.floor(perRequest.length / 2)]!;
console.log(
  `${STREAM ? 'streamed (64 chunks)' : 'non-streamed'} chat completion, ${(body.length / 1024).toFixed(1)} KiB request body, ${N} requests at concurrency ${C}, ${perRequest.length} rounds: ` +
    `CPU per request min ${perRequest[0]!.toFixed(1)} µs, median ${median.toFixed(1)} µs, max ${perRequest.at(-1)!.toFixed(1)} µs ` +
    `(${(sentBytes / sends / 1024).toFixed(1)} KiB sent upstream per request)`,
);
await journal.close();
await sc.close();
