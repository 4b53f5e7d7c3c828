import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Field names whose values are credentials, as HTTP headers and config keys spell them. */
const SECRET_FIELDS = [
  'authorization',
  'Authorization',
  'proxy-authorization',
  'Proxy-Authorization',
  'cookie',
  'Cookie',
  'set-cookie',
  'password',
  'token',
  'access_token',
  'refresh_token',
  'psk',
];

/** A field at the top, one or two levels down (`headers.authorization`, `req.headers.authorization`). */
function redactPaths(fields: readonly string[]): string[] {
  return fields.flatMap((field) => {
    const key = /^[A-Za-z_]\w*$/.test(field) ? `.${field}` : `["${field}"]`;
    return [key.startsWith('.') ? field : key, `*${key}`, `*.*${key}`];
  });
}

/**
 * JSON logger. Authorization headers, cookies and anything named like a secret
 * are redacted wherever they appear up to two levels down, so a careless log
 * call cannot leak credentials. `destination` is for tests; stdout otherwise.
 */
export function createLogger(
  options: { level?: LogLevel; name?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      name: options.name ?? 'shoal',
      level: options.level ?? 'info',
      redact: { paths: redactPaths(SECRET_FIELDS), censor: '[redacted]' },
    },
    options.destination,
  );
}
