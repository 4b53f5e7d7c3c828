import { LOG_LEVELS } from '@shoal/telemetry';
import { z } from 'zod';
import { parseSize } from './sizes.ts';

/** Validators shared by every command's schema. */

export const hostPort = z
  .string()
  .regex(/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:5050');

export const size = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

export const logLevel = z.enum(LOG_LEVELS);

/** `name=url` pairs (flags, env) or a YAML mapping, into a map of registry name -> base URL. */
export const registryEndpoints = z
  .union([z.array(z.string()), z.record(z.string(), z.string())])
  .transform((value, ctx) => {
    const pairs: [string, string][] = Array.isArray(value)
      ? value.map((entry) => {
          const eq = entry.indexOf('=');
          return eq > 0 ? [entry.slice(0, eq), entry.slice(eq + 1)] : [entry, ''];
        })
      : Object.entries(value);
    const out: Record<string, string> = {};
    for (const [name, url] of pairs) {
      if (!/^https?:\/\/[^/\s]+\/?$/.test(url)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${name}=${url}": expected <registry>=<http(s)://host[:port]>`,
        });
        continue;
      }
      out[name] = url;
    }
    return out;
  });
