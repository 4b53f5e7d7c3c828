import { readFileSync } from 'node:fs';
import { multiaddr } from '@multiformats/multiaddr';
import { normalizeRegistry } from '@shoal/oci';
import { decodeSwarmKey } from '@shoal/p2p/swarm-key';
import { LOG_LEVELS } from '@shoal/telemetry';
import { z } from 'zod';
import { parseDuration } from './durations.ts';
import { parseSize } from './sizes.ts';

/** Validators shared by every command's schema. */

const SIZE_EXPECTED = 'expected one size such as 20GiB, 500MB or a byte count';

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export const hostPort = z
  .string({ error: 'expected host:port, e.g. 127.0.0.1:5050' })
  .refine((value) => Number(HOST_PORT.exec(value)?.[1] ?? -1) <= 65535 && HOST_PORT.test(value), {
    error: 'expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:5050',
  });

export const size = z.union([z.string(), z.number()], { error: SIZE_EXPECTED }).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** A duration such as 90s, 10m or 1h, in milliseconds. */
export const duration = z
  .union([z.string(), z.number()], { error: 'expected one duration such as 90s, 10m or 1h' })
  .transform((value, ctx) => {
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

/** A registry name, or `none`: no registry at all (mapped to undefined by the option that takes it). */
export const registryOrNone = z
  .string()
  .refine(
    (v) => v === 'none' || isRegistryName(v),
    'expected a registry host[:port], e.g. docker.io, or none',
  );

/** `name=url` pairs (flags, env) or a YAML mapping, into a map of registry name -> base URL. */
export const registryEndpoints = z
  .union([z.array(z.string()), z.record(z.string(), z.string())], {
    error: 'expected <registry>=<url> pairs, or a YAML mapping of registry to url',
  })
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

const MULTIADDR_EXPECTED = 'expected a multiaddr such as /ip4/10.0.0.1/tcp/4600';

/** libp2p multiaddrs, parsed as libp2p will parse them: a bad one is a configuration error, not a failed start. */
export const multiaddrList = z.array(
  z.string({ error: MULTIADDR_EXPECTED }).superRefine((value, ctx) => {
    try {
      multiaddr(value);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `"${value}": ${(error as Error).message}; ${MULTIADDR_EXPECTED}`,
      });
    }
  }),
  { error: `${MULTIADDR_EXPECTED} (or a list of them)` },
);

/** `key=value` pairs (flags, env) or a YAML mapping. */
export const labels = z
  .union([z.array(z.string()), z.record(z.string(), z.string())], {
    error: 'expected key=value pairs, or a YAML mapping of keys to values',
  })
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

/** A file an option names, read now; unreadable, an issue of that option. */
function readNamedFile(path: string, ctx: z.RefinementCtx): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(error as Error).message}` });
    return undefined;
  }
}

/**
 * A file of locality labels, one `key=value` a line (blank lines and # comments skipped), read now:
 * what an init step wrote from the node's topology labels. A missing or malformed file is a
 * configuration error.
 */
export const labelFile = z.string().transform((path, ctx) => {
  const text = readNamedFile(path, ctx);
  if (text === undefined) return z.NEVER;
  const out: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      ctx.addIssue({ code: 'custom', message: `${path} line ${index + 1}: "${line}": expected key=value` });
      continue;
    }
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
});

/** true/false from a flag or env string, or a YAML boolean. */
export const booleanFlag = z
  .union([z.boolean(), z.enum(['true', 'false', 'yes', 'no', '1', '0'])], {
    error: 'expected true or false (also yes/no, 1/0)',
  })
  .transform((value) => value === true || value === 'true' || value === 'yes' || value === '1');

/** A libp2p swarm.key file, read and checked now (as the node will read it): a missing or malformed key is a configuration error. */
export const swarmKeyFile = z.string().superRefine((path, ctx) => {
  const text = readNamedFile(path, ctx);
  if (text === undefined) return;
  try {
    decodeSwarmKey(text, path);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});
