import { type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * JSON logger. Authorization headers and anything named like a secret are
 * redacted wherever they appear, so a careless log call cannot leak credentials.
 */
export function createLogger(options: { level?: LogLevel; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'shoal',
    level: options.level ?? 'info',
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'headers.authorization',
        '*.headers.authorization',
        'password',
        '*.password',
        'token',
        '*.token',
        'psk',
        '*.psk',
      ],
      censor: '[redacted]',
    },
  });
}
