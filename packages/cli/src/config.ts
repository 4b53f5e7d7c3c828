import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';

/** One option of a command: its flag, its key in YAML, its SHOAL_* variable. */
export interface OptionSpec {
  /** camelCase key, as in the YAML file */
  key: string;
  /** value placeholder for --help, e.g. "<host:port>"; empty for a switch (see `switch`) */
  arg: string;
  description: string;
  /** may be given several times (flag repeated, YAML list, comma-separated env) */
  repeatable?: boolean;
  /** default shown in --help and the configuration reference */
  defaultText?: string;
  /** an on/off switch: the flag takes no value; YAML true/false; env true/false/1/0 */
  switch?: boolean;
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
 * Merges a command's configuration: defaults < YAML file < SHOAL_* environment
 * < flags, then validates it with the command's schema. Errors name the option
 * and where it came from.
 */
export function resolveConfig<S extends z.ZodType>(
  schema: S,
  specs: readonly OptionSpec[],
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  configFile: string | undefined,
): z.output<S> {
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
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
      const known = new Set(specs.map((s) => s.key));
      for (const [key, value] of Object.entries(fileValues)) {
        if (!known.has(key)) {
          throw new ConfigError(
            `config file ${configFile}: unknown option "${key}" (known: ${[...known].sort().join(', ')})`,
          );
        }
        merged[key] = value;
        origin[key] = `config file ${configFile}`;
      }
    }
  }
  for (const spec of specs) {
    const value = env[envOf(spec)];
    if (value === undefined || value === '') continue;
    merged[spec.key] = spec.repeatable
      ? value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
      : value;
    origin[spec.key] = `environment variable ${envOf(spec)}`;
  }
  for (const spec of specs) {
    const value = flags[spec.key];
    if (value === undefined) continue;
    merged[spec.key] = value;
    origin[spec.key] = `flag ${flagOf(spec)}`;
  }
  const result = schema.safeParse(merged);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const spec = specs.find((s) => s.key === key);
    const where = origin[key] ?? 'not set';
    return `  ${spec ? flagOf(spec) : key} (${where}): ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
}
