// Base64 data URLs, `data:<type>[;param...];base64,<data>`: how OpenAI's formats carry an inline
// image or file, where Anthropic and Gemini put bare base64 beside a media type. The one place they
// are taken apart and put together, for images and files alike.
import type { Part } from '../chat/types.ts';

/**
 * A base64 data URL split at its first comma, without a regular expression running over the
 * payload (which can be megabytes); undefined for anything else (a URL, bare base64, a data URL
 * without `;base64`).
 */
export function splitDataUrl(url: string): { mediaType: string; data: string } | undefined {
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const meta = url.slice(5, comma).split(';');
  if (meta.length < 2 || meta[meta.length - 1] !== 'base64' || !meta[0]) return undefined;
  return { mediaType: meta[0].toLowerCase(), data: url.slice(comma + 1) };
}

/** Bytes as a base64 data URL. */
export function dataUrl(x: { mediaType?: string | undefined; data?: string | undefined }): string {
  return `data:${x.mediaType};base64,${x.data}`;
}

/** An image an OpenAI client gave by URL: its bytes when the URL is a base64 data URL, else the URL for the provider to fetch. */
export function imageOf(url: string): Extract<Part, { type: 'image' }> {
  const inline = splitDataUrl(url);
  return inline ? { type: 'image', ...inline } : { type: 'image', url };
}
