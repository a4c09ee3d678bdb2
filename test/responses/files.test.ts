// File inputs through the official SDKs: a Responses `input_file`, a Chat Completions `file` part
// and a Messages `document` block reach each provider in its own documented shape with the same
// bytes; an OpenAI backend gets the client's part as sent; what cannot travel (a file by
// `file_id`) is a 400 naming the part, and a body over the size limit a 413, before anything is sent.
import Anthropic from '@anthropic-ai/sdk';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { fakeKey } from '../support/fake-keys.ts';
import { MockProvider } from '../support/mock-provider.ts';
import { testSidecar, type TestSidecar } from '../support/sidecar.ts';

const KEYS = { openai: fakeKey('sk', 'proj', 'FILES0123456789abcdef'), anthropic: fakeKey('sk', 'ant', 'api03', 'FILES0123'), gemini: fakeKey('AIza', 'FILES0123456789'), compat: fakeKey('compat', 'FILES0123') };
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ANSWER = 'The report shows revenue up 12 %.';

/** A PDF-headed file with every byte value in it, ~1 MiB: large enough to span many socket reads. */
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 31 + 7) & 255))]);
const PDF_BASE64 = PDF.toString('base64');
const PDF_DATA_URL = `data:application/pdf;base64,${PDF_BASE64}`;

let mock: MockProvider;
let sc: TestSidecar;

beforeAll(async () => {
  mock = await new MockProvider().start();
  sc = await testSidecar({
    backends: [
      { name: 'oa', type: 'openai', baseURL: `${mock.url}/v1`, apiKey: { value: KEYS.openai } },
      { name: 'an', type: 'anthropic', baseURL: mock.url, apiKey: { value: KEYS.anthropic } },
      { name: 'ge', type: 'gemini', baseURL: mock.url, apiKey: { value: KEYS.gemini } },
      { name: 'co', type: 'openai-compatible', baseURL: `${mock.url}/v1`, apiKey: { value: KEYS.compat } },
      { name: 'dm', type: 'demo', demo: { tokens: 6, tokensPerSecond: 1000 } },
    ],
    routes: [
      { model: 'via-openai', backends: [{ backend: 'oa', model: 'gpt-4o' }] },
      { model: 'via-anthropic', backends: [{ backend: 'an', model: 'claude-sonnet-4-5' }] },
      { model: 'via-gemini', backends: [{ backend: 'ge', model: 'gemini-2.5-flash' }] },
      { model: 'via-openai-compatible', backends: [{ backend: 'co', model: 'Qwen/Qwen2.5-VL-7B-Instruct' }] },
      { model: 'via-demo', backends: [{ backend: 'dm' }] },
    ],
    limits: { maxBodyBytes: MAX_BODY_BYTES },
  });
});

afterAll(async () => {
  await sc?.close();
  await mock?.stop();
});

beforeEach(() => {
  mock.reset();
  mock.answer = { text: ANSWER };
});

const openai = () => new OpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused-by-airoute', maxRetries: 0 });

const withFile = (model: string, file: OpenAI.Responses.ResponseInputFile): { model: string; input: OpenAI.Responses.ResponseInput } => ({
  model,
  input: [{ role: 'user', content: [file, { type: 'input_text', text: 'What does the report say?' }] }],
});

const upstream = () => mock.received.at(-1)!.body;

describe('openai SDK responses.create with an input_file', () => {
  test('-> Anthropic: a document block with a base64 PDF source holding the same bytes, the file name as its title', async () => {
    const r = await openai().responses.create(withFile('via-anthropic', { type: 'input_file', filename: 'q3-report.pdf', file_data: PDF_DATA_URL }));
    expect(r.output_text).toBe(ANSWER);
    expect(mock.received.at(-1)!.path).toBe('/v1/messages');
    const messages = upstream().messages as { role: string; content: { type: string; source?: { type: string; media_type: string; data: string }; title?: string }[] }[];
    expect(messages).toHaveLength(1);
    const [doc, text] = messages[0]!.content;
    expect(doc).toEqual({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: expect.any(String) }, title: 'q3-report.pdf' });
    expect(Buffer.from(doc!.source!.data, 'base64').equals(PDF)).toBe(true);
    expect(text).toEqual({ type: 'text', text: 'What does the report say?' });
  });

  test('-> Anthropic, streamed, with a plain-text file as bare base64: a text source holding the decoded text', async () => {
    const notes = 'Meeting notes: ship on Friday. Ünïcode survives.';
    const stream = openai().responses.stream(withFile('via-anthropic', { type: 'input_file', filename: 'notes.txt', file_data: Buffer.from(notes).toString('base64') }));
    expect((await stream.finalResponse()).output_text).toBe(ANSWER);
    const content = (upstream().messages as { content: unknown[] }[])[0]!.content;
    expect(content[0]).toEqual({ type: 'document', source: { type: 'text', media_type: 'text/plain', data: notes }, title: 'notes.txt' });
  });

  test('-> Anthropic, a file_url: a document with a url source', async () => {
    await openai().responses.create(withFile('via-anthropic', { type: 'input_file', file_url: 'https://files.example/letters/2024ltr.pdf' }));
    expect((upstream().messages as { content: unknown[] }[])[0]!.content[0]).toEqual({ type: 'document', source: { type: 'url', url: 'https://files.example/letters/2024ltr.pdf' } });
  });

  test('-> Gemini: inlineData with the media type and the same bytes', async () => {
    const r = await openai().responses.create(withFile('via-gemini', { type: 'input_file', filename: 'q3-report.pdf', file_data: PDF_DATA_URL }));
    expect(r.output_text).toBe(ANSWER);
    const parts = (upstream().contents as { parts: { inlineData?: { mimeType: string; data: string } }[] }[])[0]!.parts;
    expect(parts[0]).toEqual({ inlineData: { mimeType: 'application/pdf', data: expect.any(String) } });
    expect(Buffer.from(parts[0]!.inlineData!.data, 'base64').equals(PDF)).toBe(true);
  });

  test('-> OpenAI-compatible: a Chat Completions file part, the data URL and file name as sent', async () => {
    await openai().responses.create(withFile('via-openai-compatible', { type: 'input_file', filename: 'q3-report.pdf', file_data: PDF_DATA_URL }));
    expect(mock.received.at(-1)!.path).toBe('/v1/chat/completions');
    expect((upstream().messages as { content: unknown[] }[])[0]!.content).toEqual([
      { type: 'file', file: { filename: 'q3-report.pdf', file_data: PDF_DATA_URL } },
      { type: 'text', text: 'What does the report say?' },
    ]);
  });

  test('-> the demo backend: answered', async () => {
    const r = await openai().responses.create(withFile('via-demo', { type: 'input_file', filename: 'q3-report.pdf', file_data: PDF_DATA_URL }));
    expect(r.status).toBe('completed');
    expect(r.output_text.split(' ')).toHaveLength(6);
  });

  test('-> OpenAI: the input_file part as the client sent it, file_id included', async () => {
    const file = { type: 'input_file', file_id: 'file-6F2ksmvXxt4VdoqmHRw6kL' } as const;
    await openai().responses.create(withFile('via-openai', file));
    expect(mock.received.at(-1)!.path).toBe('/v1/responses');
    expect(upstream().input).toEqual([{ role: 'user', content: [file, { type: 'input_text', text: 'What does the report say?' }] }]);
  });

  test('a file by file_id -> Anthropic: 400 naming the part; nothing is sent upstream', async () => {
    const err = await openai()
      .responses.create(withFile('via-anthropic', { type: 'input_file', file_id: 'file-6F2ksmvXxt4VdoqmHRw6kL' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect([e.code, e.message]).toEqual(['unsupported_parameter', expect.stringContaining('input[0].content[0] (input_file by file_id)')]);
    expect(mock.received).toEqual([]);
  });

  test('a file URL -> OpenAI-compatible (Chat Completions has no file URLs): 400 naming the part; nothing is sent upstream', async () => {
    const err = await openai()
      .responses.create(withFile('via-openai-compatible', { type: 'input_file', file_url: 'https://files.example/letters/2024ltr.pdf' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/input\[0\]\.content\[0\]: a file by URL .* has no equivalent in the OpenAI-compatible format/);
    expect(mock.received).toEqual([]);
  });

  test(`a body over limits.maxBodyBytes (${MAX_BODY_BYTES} bytes): 413 before anything is parsed or sent; never a partial upstream request`, async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES, 1).toString('base64');
    const err = await openai()
      .responses.create(withFile('via-anthropic', { type: 'input_file', filename: 'huge.pdf', file_data: `data:application/pdf;base64,${big}` }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect(mock.received).toEqual([]);
  });
});

describe('the other client formats', () => {
  test("the Vercel AI SDK's default openai(...) provider (Responses) with a file part -> Gemini: inlineData with the same bytes", async () => {
    const provider = createOpenAI({ baseURL: `${sc.dataURL}/v1`, apiKey: 'unused-by-airoute' });
    const { text } = await generateText({
      model: provider('via-gemini'),
      messages: [{ role: 'user', content: [{ type: 'file', data: PDF, mediaType: 'application/pdf', filename: 'q3-report.pdf' }, { type: 'text', text: 'Summarize.' }] }],
    });
    expect(text).toBe(ANSWER);
    const parts = (upstream().contents as { parts: { inlineData?: { mimeType: string; data: string } }[] }[])[0]!.parts;
    expect(parts.map((p) => Object.keys(p)[0])).toEqual(['inlineData', 'text']);
    expect(parts[0]!.inlineData!.mimeType).toBe('application/pdf');
    expect(Buffer.from(parts[0]!.inlineData!.data, 'base64').equals(PDF)).toBe(true);
  });

  test('openai SDK chat.completions.create with a file part -> Anthropic: a document block with the same bytes', async () => {
    const r = await openai().chat.completions.create({
      model: 'via-anthropic',
      messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'q3-report.pdf', file_data: PDF_DATA_URL } }, { type: 'text', text: 'Summarize.' }] }],
    });
    expect(r.choices[0]!.message.content).toBe(ANSWER);
    const content = (upstream().messages as { content: { source?: { data: string } }[] }[])[0]!.content;
    expect(content[0]).toMatchObject({ type: 'document', source: { type: 'base64', media_type: 'application/pdf' }, title: 'q3-report.pdf' });
    expect(Buffer.from(content[0]!.source!.data, 'base64').equals(PDF)).toBe(true);
  });

  test('anthropic SDK messages.create with a document block -> OpenAI-compatible: a file part with the bytes as a data URL and a named file', async () => {
    const an = new Anthropic({ baseURL: sc.dataURL, apiKey: 'unused', maxRetries: 0 });
    const m = await an.messages.create({
      model: 'via-openai-compatible',
      max_tokens: 256,
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF_BASE64 } }, { type: 'text', text: 'Summarize.' }] }],
    });
    expect(m.content).toEqual([{ type: 'text', text: ANSWER }]);
    expect((upstream().messages as { content: unknown[] }[])[0]!.content).toEqual([
      { type: 'file', file: { filename: 'document.pdf', file_data: PDF_DATA_URL } },
      { type: 'text', text: 'Summarize.' },
    ]);
  });

  test('anthropic SDK with citations on a document -> Gemini: 400 naming the field in the Anthropic error shape; nothing is sent upstream', async () => {
    const an = new Anthropic({ baseURL: sc.dataURL, apiKey: 'unused', maxRetries: 0 });
    const err = await an.messages
      .create({
        model: 'via-gemini',
        max_tokens: 256,
        messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Grass is green.' }, citations: { enabled: true } }] }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Error).message).toMatch(/messages\.0\.content\.0\.citations: citations cannot be translated/);
    expect(mock.received).toEqual([]);
  });
});
