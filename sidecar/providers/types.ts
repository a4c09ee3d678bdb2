// One adapter per provider, behind one interface. Adapters are pure: they build upstream
// requests and decode upstream bytes; the transport (upstream/) does the I/O. Handlers never
// branch on a provider's name, only on the capabilities an adapter declares.
import type { BackendType } from '../../api/v1alpha1/config.ts';
import type { AirouteError } from '../errors.ts';
import type { ChatRequest, ChatResult, ClientFormat, EmbeddingsRequest, JsonObject, WireFormat } from '../chat/types.ts';
import type { StreamDecoder } from '../wire/types.ts';

export type HeaderMap = Record<string, string | string[] | undefined>;

export interface UpstreamRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

export interface Capabilities {
  /** The wire format the provider speaks; a client of the same format gets raw passthrough. */
  format: WireFormat;
  /** Further client formats the provider serves natively (OpenAI: Responses beside Chat Completions): their clients get raw passthrough too. */
  alsoSpeaks?: readonly ClientFormat[];
  /** Continues from a trailing assistant message (resume: prefill). */
  prefill: boolean;
  embeddings: boolean;
  /** More than one choice per request (OpenAI `n`). */
  multipleChoices: boolean;
}

/** A backend from the config, with its key resolved and defaults applied. */
export interface ResolvedBackend {
  name: string;
  type: BackendType;
  baseURL: string;
  apiKey?: string;
  apiVersion?: string;
  headers: Record<string, string>;
  prefill?: boolean;
  demo: { tokens: number; tokensPerSecond: number };
}

/** The upstream answers a client of this format in the client's own format: its bytes can go through unchanged. */
export function speaksNatively(caps: Capabilities, format: WireFormat): boolean {
  return caps.format === format || (caps.alsoSpeaks?.includes(format as ClientFormat) ?? false);
}

export interface BuildOptions {
  /** Text already delivered to the client, to be continued (resume: prefill). */
  prefill?: string;
  /** Ask for a stream even if the client did not (never used today, kept explicit). */
  stream: boolean;
}

export interface ProviderAdapter {
  readonly type: BackendType;
  /** Answered inside the process (the demo model) rather than over HTTP. */
  readonly inProcess?: boolean;
  capabilities(backend: ResolvedBackend): Capabilities;
  /** Client protocol headers a same-format request forwards (providers/headers.ts). */
  readonly forwardHeaders: readonly string[];
  /** Response headers that carry the provider's request id, handed back to the client under the same name. */
  readonly requestIdHeaders: readonly string[];
  chatRequest(req: ChatRequest, backend: ResolvedBackend, model: string, opts: BuildOptions): UpstreamRequest;
  streamDecoder(req: ChatRequest): StreamDecoder;
  /** `req` says which API answered where a provider serves more than one (OpenAI: Chat Completions or Responses). */
  chatResult(body: string, req: ChatRequest): ChatResult;
  embeddingsRequest?(req: EmbeddingsRequest, backend: ResolvedBackend, model: string): UpstreamRequest;
  /** OpenAI-shaped embeddings response. */
  embeddingsResult?(body: string): JsonObject;
  /** `POST /v1/messages/count_tokens` on this backend, where the provider has a counting endpoint of its own. */
  countTokensRequest?(req: ChatRequest, backend: ResolvedBackend, model: string): UpstreamRequest;
  /** The provider's count as Anthropic's answer (`{input_tokens}`). */
  countTokensResult?(body: string): JsonObject;
  /** Classifies a non-2xx answer: status, provider message, retriable or not, fallback condition. */
  error(status: number, body: string, headers: HeaderMap, secrets: readonly string[]): AirouteError;
}
