import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { defaultSourceValue } from './option-defaults.ts';

/** A value an option can have by default, in the form its schema reads from YAML. */
export type OptionValue = string | number | boolean | readonly string[] | Readonly<Record<string, string>>;

/** One option of a command: its flag, its key in YAML, its SHOAL_* variable, its default. */
export interface OptionSpec {
  /** camelCase key, as in the YAML file */
  key: string;
  /** value placeholder for --help, e.g. "<host:port>"; empty for a switch (see `switch`) */
  arg: string;
  description: string;
  /** may be given several times (flag repeated, YAML list, comma-separated env) */
  repeatable?: boolean;
  /** the value when no file, variable or flag sets it; also what --help and the configuration reference show */
  default?: OptionValue;
  /** what a number `default` counts, for showing it: bytes as 8MiB, milliseconds as 30s */
  unit?: 'bytes' | 'ms';
  /** shown instead of `default`, e.g. for a default decided where the value is used */
  defaultText?: string;
  /** an on/off switch: the flag takes no value; YAML true/false; env true/false/1/0 */
  switch?: boolean;
  /**
   * name=value pairs (flag repeated, comma-separated env, YAML mapping): each source adds to the
   * pairs of the ones below it, a later source winning per name, rather than replacing them all.
   */
  pairs?: boolean;
}

export function flagOf(spec: OptionSpec): string {
  return `--${spec.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function envOf(spec: OptionSpec): string {
  return `SHOAL_${spec.key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Merges a command's configuration: defaults (the specs') < YAML file < SHOAL_*
 * environment < flags, then validates it with the command's schema. Errors name
 * the option, where its value came from, the value and what was expected.
 */
export function resolveConfig<S extends z.ZodType>(
  schema: S,
  specs: readonly OptionSpec[],
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  configFile: string | undefined,
): z.output<S> {
  return resolveConfigWithSources(schema, specs, flags, env, configFile).config;
}

/** `resolveConfig`, also telling where each option that was set came from (e.g. "flag --listen"); defaults are not listed. */
export function resolveConfigWithSources<S extends z.ZodType>(
  schema: S,
  specs: readonly OptionSpec[],
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  configFile: string | undefined,
): { config: z.output<S>; sources: Record<string, string> } {
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  for (const spec of specs) {
    const value = defaultSourceValue(spec);
    if (value !== undefined) merged[spec.key] = value;
  }
  /** Sets an option from a higher source; pairs are added to the lower sources' pairs. */
  const layer = (spec: OptionSpec, value: unknown, source: string) => {
    const below = merged[spec.key];
    // With no pairs below (none set, or an empty default), the value is taken as given.
    if (spec.pairs && below !== undefined && asPairs(below).length > 0) {
      merged[spec.key] = [...asPairs(below), ...asPairs(value)];
      origin[spec.key] = origin[spec.key] ? `${origin[spec.key]} and ${source}` : source;
    } else {
      merged[spec.key] = value;
      origin[spec.key] = source;
    }
  };
  if (configFile) {
    let fileValues: unknown;
    try {
      fileValues = parseYaml(readFileSync(configFile, 'utf8'));
    } catch (error) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(error as Error).message}`);
    }
    if (fileValues !== null && fileValues !== undefined) {
      if (typeof fileValues !== 'object' || Array.isArray(fileValues)) {
        throw new ConfigError(`config file ${configFile} must be a YAML mapping of option names to values`);
      }
      const known = new Map(specs.map((s) => [s.key, s]));
      for (const [key, value] of Object.entries(fileValues)) {
        const spec = known.get(key);
        if (!spec) {
          throw new ConfigError(
            `config file ${configFile}: unknown option "${key}" (known: ${[...known.keys()].sort().join(', ')})`,
          );
        }
        layer(spec, value, `config file ${configFile}`);
      }
    }
  }
  for (const spec of specs) {
    const value = env[envOf(spec)];
    if (value === undefined || value === '') continue;
    const values = spec.repeatable
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
      : value;
    layer(spec, values, `environment variable ${envOf(spec)}`);
  }
  for (const spec of specs) {
    const value = flags[spec.key];
    if (value === undefined) continue;
    layer(spec, value, `flag ${flagOf(spec)}`);
  }
  const result = schema.safeParse(merged);
  if (result.success) return { config: result.data, sources: origin };
  const problems = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const spec = specs.find((s) => s.key === key);
    const where = origin[key] ?? (spec?.default !== undefined ? 'default' : 'not set');
    return `  ${spec ? flagOf(spec) : key} (${where}): ${issue.message}${shownValue(merged, issue.path, issue.message)}`;
  });
  throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}

/** ", got <value>" for a problem whose message does not show the value already. */
function shownValue(merged: Record<string, unknown>, path: readonly PropertyKey[], message: string): string {
  let value: unknown = merged;
  for (const part of path) {
    if (value === null || typeof value !== 'object') return '';
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  if (value === undefined) return '';
  const text = JSON.stringify(value) ?? String(value);
  if (message.includes(text) || message.includes(String(value))) return '';
  return `, got ${text.length > 80 ? `${text.slice(0, 77)}...` : text}`;
}

/** A YAML mapping as name=value strings, the form flags and variables take; anything else as it is. */
function asPairs(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).map(([name, v]) => `${name}=${String(v)}`);
  }
  return [value];
}
