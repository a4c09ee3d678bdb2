// Structured JSON logs (pino). Nothing that could hold a key or a prompt is ever handed to the
// logger; the redact paths are a second line of defence for headers and config objects.
import pino, { type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function createLogger(level: LevelWithSilent = 'info', destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false })): Logger {
  return pino(
    {
      level,
      base: { component: 'airoute-sidecar' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]', 'headers["x-goog-api-key"]', '*.apiKey', '*.value', 'apiKey', 'token'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
