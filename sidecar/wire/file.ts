// File inputs (a PDF, a text file) as the formats carry them: OpenAI as a `data:` URL, Anthropic and
// Gemini as bare base64 beside a media type, or a URL the provider fetches. The base64 can be most
// of a 10 MiB body: it is sliced out of the client's string and put into the upstream's, never
// decoded, except where a format wants the text itself (Anthropic's plain-text documents).
import { AirouteError, invalidRequest } from '../errors.ts';
import type { FilePart } from '../chat/types.ts';
import { splitDataUrl } from './data-url.ts';

export const PDF = 'application/pdf';

/** File types by extension, for bare base64 or a URL that came without one (OpenAI's accepted document types, the common ones). */
const BY_EXTENSION: Readonly<Record<string, string>> = {
  pdf: PDF,
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  html: 'text/html',
  htm: 'text/html',
  xml: 'text/xml',
  json: 'application/json',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** The media type a file name (or a URL's path) implies, if its extension is a known one. */
export function mediaTypeOfName(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const path = name.split(/[?#]/, 1)[0] ?? '';
  const dot = path.lastIndexOf('.');
  return dot < 0 ? undefined : BY_EXTENSION[path.slice(dot + 1).toLowerCase()];
}

/**
 * An OpenAI `file_data` (a base64 data URL, as the SDKs and docs send it, or bare base64): the
 * media type is the data URL's, else the file name's, else PDF (the only type Chat Completions
 * takes, and what OpenAI assumes too).
 */
export function decodeFileData(fileData: string, filename: string | undefined, field: string): FilePart {
  const named = filename !== undefined && filename !== '' ? { filename } : {};
  const split = splitDataUrl(fileData);
  if (split) return { type: 'file', field, ...named, mediaType: split.mediaType, data: split.data };
  if (fileData.startsWith('data:')) throw invalidRequest(`${field}: file_data must be base64, or a data URL with ;base64`, field);
  return { type: 'file', field, ...named, mediaType: mediaTypeOfName(filename) ?? PDF, data: fileData };
}

/** A file by URL, its type from its file name or the URL's path when either has a known extension. */
export function fileByUrl(url: string, filename: string | undefined, field: string): FilePart {
  const mediaType = mediaTypeOfName(filename) ?? mediaTypeOfName(url);
  return { type: 'file', field, url, ...(filename ? { filename } : {}), ...(mediaType ? { mediaType } : {}) };
}

/**
 * The name OpenAI gets: its API refuses inline file data without a `filename` (a 400 that names
 * `file_id` on Chat Completions), so a file from a format that has no name (Anthropic documents
 * without a title, Gemini) gets a neutral one with the right extension.
 */
export function openaiFilename(part: FilePart): string {
  if (part.filename) return part.filename;
  const ext = Object.entries(BY_EXTENSION).find(([, type]) => type === part.mediaType)?.[0];
  return ext ? `document.${ext}` : 'document';
}

/** A file the backend's format cannot carry: a 400 naming the part as the client named it. */
export function refuseFile(part: FilePart, backendKind: string, what: string): AirouteError {
  return new AirouteError('unsupported_parameter', 400, `${part.field}: ${what} has no equivalent in the ${backendKind} format`, { param: part.field });
}
