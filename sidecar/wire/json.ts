// Narrowing helpers for untrusted JSON: provider bodies and client bodies are `unknown` until checked.
import { AirouteError } from '../errors.ts';
import type { JsonObject } from '../chat/types.ts';

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

export function num(v: unknown, fallback = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** Parses an upstream's JSON; anything unparsable is a malformed (retriable) upstream answer. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformed(what, err);
  }
}

export function malformed(what: string, cause?: unknown): AirouteError {
  return new AirouteError('upstream_malformed', 502, `upstream sent a malformed ${what}`, { retriable: true, fallback: 'retries_exhausted', phase: 'stream', cause });
}
