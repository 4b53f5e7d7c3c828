import { normalizeRegistry } from '@shoal/oci';
import { LOG_LEVELS } from '@shoal/telemetry';
import { z } from 'zod';
import { parseDuration } from './durations.ts';
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

/** A duration such as 90s, 10m or 1h, in milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseDuration(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

export const logLevel = z.enum(LOG_LEVELS);

function isRegistryName(name: string): boolean {
  try {
    normalizeRegistry(name);
    return true;
  } catch {
    return false;
  }
}

/** A registry host[:port] as written in image names, e.g. docker.io or registry.example:5000. */
export const registryName = z
  .string()
  .refine(isRegistryName, 'expected a registry host[:port], e.g. docker.io or registry.example:5000');

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
      if (!isRegistryName(name) || !/^https?:\/\/[^/\s]+\/?$/.test(url)) {
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

/** libp2p multiaddrs, checked for shape here and fully by libp2p when used. */
export const multiaddrList = z.array(
  z
    .string()
    .regex(
      /^(\/[a-z0-9-]+\/[^/\s]+)+(\/p2p\/[A-Za-z0-9]+)?$/,
      'expected a multiaddr such as /ip4/10.0.0.1/tcp/4600',
    ),
);

/** `key=value` pairs (flags, env) or a YAML mapping. */
export const labels = z
  .union([z.array(z.string()), z.record(z.string(), z.string())])
  .transform((value, ctx) => {
    if (!Array.isArray(value)) return value;
    const out: Record<string, string> = {};
    for (const entry of value) {
      const eq = entry.indexOf('=');
      if (eq <= 0) {
        ctx.addIssue({ code: 'custom', message: `"${entry}": expected key=value` });
        continue;
      }
      out[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return out;
  });

/** true/false from a flag or env string, or a YAML boolean. */
export const booleanFlag = z
  .union([z.boolean(), z.enum(['true', 'false', 'yes', 'no', '1', '0'])])
  .transform((value) => value === true || value === 'true' || value === 'yes' || value === '1');
