// Regenerates the wire captures in docs/patterns.md from a real sidecar on the demo backend.
// `--check` exits 1 when the file is stale instead of writing it (a test runs this).
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../sidecar/log.ts';
import { startSidecar } from '../sidecar/start.ts';

const DOC = new URL('../docs/patterns.md', import.meta.url);
// An example secret for the capture only (a real one comes from a Secret or the environment).
const SECRET = 'whsec_' + Buffer.from('airoute-docs-capture-secret-0123').toString('base64');

function normalise(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<request-id>')
    .replace(/chatcmpl-demo[0-9a-f]+/g, 'chatcmpl-<id>')
    .replace(/msg_[0-9a-f-]+|msg_<request-id>/g, 'msg_<id>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, '<time>')
    .replace(/"(ts|created|created_at)": ?\d+/g, '"$1": <time>')
    .replace(/resp_[0-9a-f]{32}/g, 'resp_<id>')
    .replace(/\b(msg|fc|rs)_[0-9a-f]{32}_/g, '$1_<id>_')
    .replace(/"durationMs": ?\d+/g, '"durationMs": <ms>')
    .replace(/webhook-timestamp: \d+/g, 'webhook-timestamp: <unix-time>')
    .replace(/webhook-signature: v1,\S+/g, 'webhook-signature: v1,<base64 HMAC-SHA256>')
    .replace(/^date: .*$/gim, 'date: <date>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
}

const block = (lang: string, text: string) => '```' + lang + '\n' + normalise(text).trimEnd() + '\n```';

function shortenSse(text: string, head: number, tail: number): string {
  const events = text.split('\n\n').filter((e) => e.trim());
  if (events.length <= head + tail) return events.join('\n\n');
  return [...events.slice(0, head), `... (${events.length - head - tail} more)`, ...events.slice(-tail)].join('\n\n');
}

async function capture(): Promise<Record<string, string>> {
  const hooks: { req: IncomingMessage; body: string }[] = [];
  const receiver = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    hooks.push({ req, body });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/airoute`;
  const sc = await startSidecar({
    port: 0,
    adminPort: 0,
    logger: createLogger('silent'),
    configDocument: {
      backends: [{ name: 'demo', type: 'demo', demo: { tokens: 12, tokensPerSecond: 500 } }],
      routes: [{ model: 'demo', backends: [{ backend: 'demo' }] }],
      webhooks: { allow: [hookUrl], privateNetworks: ['127.0.0.1/32'], secret: { value: SECRET } },
    },
  });
  const out: Record<string, string> = {};
  try {
    const body = JSON.stringify({ model: 'demo', stream: true, messages: [{ role: 'user', content: 'What does airoute do?' }] });
    const sync = await fetch(`${sc.dataURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    out.sync = [
      block('bash', `curl -N ${sc.dataURL}/v1/chat/completions -H 'content-type: application/json' \\\n  -d '${body}'`),
      block('http', `HTTP/1.1 ${sync.status}\ncontent-type: ${sync.headers.get('content-type')}\nx-airoute-request-id: ${sync.headers.get('x-airoute-request-id')}\nx-airoute-attempts: ${sync.headers.get('x-airoute-attempts')}\nx-airoute-backend: ${sync.headers.get('x-airoute-backend')}\n\n${shortenSse(await sync.text(), 3, 3)}`),
    ].join('\n\n');

    const submit = await fetch(`${sc.dataURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async', 'airoute-callback-url': hookUrl },
      body,
    });
    const submitted = (await submit.json()) as { id: string };
    out['async-submit'] = [
      block('bash', `curl -i ${sc.dataURL}/v1/chat/completions -H 'content-type: application/json' \\\n  -H 'Prefer: respond-async' -H 'Airoute-Callback-Url: ${hookUrl}' -d '${body}'`),
      block('http', `HTTP/1.1 ${submit.status}\nlocation: ${submit.headers.get('location')}\npreference-applied: ${submit.headers.get('preference-applied')}\nx-airoute-request-id: ${submit.headers.get('x-airoute-request-id')}\n\n${JSON.stringify(submitted, null, 2)}`),
    ].join('\n\n');
    const events = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${submitted.id}/events`)).text();
    for (let i = 0; i < 200 && hooks.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const poll = (await (await fetch(`${sc.dataURL}/airoute/v1/requests/${submitted.id}`)).json()) as Record<string, unknown>;
    out['async-poll'] = [block('bash', `curl ${sc.dataURL}/airoute/v1/requests/${submitted.id}`), block('json', JSON.stringify(poll, null, 2))].join('\n\n');
    out.events = [block('bash', `curl -N ${sc.dataURL}/airoute/v1/requests/${submitted.id}/events`), block('text', shortenSse(events, 4, 3))].join('\n\n');
    const resumed = await (await fetch(`${sc.dataURL}/airoute/v1/requests/${submitted.id}/events`, { headers: { 'last-event-id': '10' } })).text();
    out['events-resume'] = [block('bash', `curl -N ${sc.dataURL}/airoute/v1/requests/${submitted.id}/events -H 'Last-Event-ID: 10'`), block('text', shortenSse(resumed, 2, 2))].join('\n\n');
    const hook = hooks[0];
    if (!hook) throw new Error('the webhook never arrived');
    const h = hook.req.headers;
    const payload = JSON.parse(hook.body) as { data: { result?: unknown } };
    if (payload.data.result) payload.data.result = '<the same result as in the poll above>';
    out.webhook = block('http', `POST /hooks/airoute HTTP/1.1\ncontent-type: ${h['content-type']}\nwebhook-id: msg_<id>\nwebhook-timestamp: ${h['webhook-timestamp']}\nwebhook-signature: ${h['webhook-signature']}\n\n${JSON.stringify(payload, null, 2)}`);
    Object.assign(out, await captureResponses(sc.dataURL));
  } finally {
    await sc.close();
    receiver.closeAllConnections();
    receiver.close();
  }
  return out;
}

/** The OpenAI Responses API: a streamed response, a background one, and its stream resumed after a sequence number. */
async function captureResponses(base: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const post = (body: string) => fetch(`${base}/v1/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const streamed = JSON.stringify({ model: 'demo', stream: true, input: 'What does airoute do?' });
  const sync = await post(streamed);
  out['responses-sync'] = [
    block('bash', `curl -N ${base}/v1/responses -H 'content-type: application/json' \\\n  -d '${streamed}'`),
    block('http', `HTTP/1.1 ${sync.status}\ncontent-type: ${sync.headers.get('content-type')}\nx-airoute-request-id: ${sync.headers.get('x-airoute-request-id')}\n\n${shortenSse(await sync.text(), 4, 2)}`),
  ].join('\n\n');
  const background = JSON.stringify({ model: 'demo', background: true, input: 'What does airoute do?' });
  const created = await post(background);
  const response = (await created.json()) as { id: string; status: string };
  // queued until its first attempt starts, which on the demo backend is at once: either may show
  const shown = JSON.stringify({ ...response, status: '<queued | in_progress>' }, null, 2);
  out['responses-background'] = [
    block('bash', `curl ${base}/v1/responses -H 'content-type: application/json' \\\n  -d '${background}'`),
    block('http', `HTTP/1.1 ${created.status}\nx-airoute-request-id: ${created.headers.get('x-airoute-request-id')}\n\n${shown}`),
  ].join('\n\n');
  for (let i = 0; i < 500; i++) {
    const r = (await (await fetch(`${base}/v1/responses/${response.id}`)).json()) as { status: string };
    if (r.status === 'completed') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const resumed = await (await fetch(`${base}/v1/responses/${response.id}?stream=true&starting_after=6`)).text();
  out['responses-resume'] = [block('bash', `curl -N '${base}/v1/responses/${response.id}?stream=true&starting_after=6'`), block('text', shortenSse(resumed, 3, 2))].join('\n\n');
  return out;
}

export async function render(): Promise<{ current: string; next: string }> {
  const current = await readFile(DOC, 'utf8');
  const caps = await capture();
  let next = current;
  for (const [name, text] of Object.entries(caps)) {
    const re = new RegExp(`(<!-- capture:${name} -->)[\\s\\S]*?(<!-- /capture:${name} -->)`);
    if (!re.test(next)) throw new Error(`docs/patterns.md has no capture:${name} markers`);
    next = next.replace(re, (_m, open: string, close: string) => `${open}\n${text}\n${close}`);
  }
  return { current, next };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { current, next } = await render();
  if (process.argv.includes('--check')) {
    if (current !== next) {
      console.error('docs/patterns.md is stale: run npm run docs:captures');
      process.exit(1);
    }
    console.log('docs/patterns.md is up to date');
  } else {
    await writeFile(DOC, next);
    console.log('docs/patterns.md regenerated');
  }
}
