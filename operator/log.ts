// Structured JSON logs for the operator. Nothing that holds a key or a token is ever handed to the
// logger; the redact paths are a second line of defence.
import pino, { type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createOperatorLogger(level: LevelWithSilent = 'info', destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
  return pino(
    {
      level,
      base: { component: 'airoute-operator' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['token', '*.token', 'apiKey', '*.apiKey', '*.value', 'data', '*.data', 'headers.authorization'], censor: '[redacted]' },
    },
    destination,
  );
}

/** The message of an error from any source, without bodies that could hold secrets: a client-node
 *  ApiException's message embeds the whole response body, so only its code and Status message are kept. */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && 'body' in err && typeof (err as { code: unknown }).code === 'number') {
    const e = err as { code: number; body: unknown };
    const body = typeof e.body === 'string' ? safeParse(e.body) : e.body;
    const msg = body && typeof body === 'object' && 'message' in body ? String((body as { message: unknown }).message) : '';
    return `HTTP ${e.code}${msg ? `: ${msg}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** HTTP status of a client-node ApiException (or a watch error), if it has one. */
export function statusCode(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}
