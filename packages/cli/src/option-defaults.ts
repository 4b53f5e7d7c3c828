import type { OptionSpec, OptionValue } from './config.ts';
import { formatDurationOption } from './durations.ts';
import { formatSizeOption } from './sizes.ts';

/** An option value as a user writes it: 20GiB, 30s, a list or mapping comma-separated. */
function written(value: OptionValue, unit: OptionSpec['unit']): string {
  if (typeof value === 'number') {
    if (unit === 'bytes') return formatSizeOption(value);
    if (unit === 'ms') return formatDurationOption(value);
    return String(value);
  }
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return value.join(', ');
  return Object.entries(value)
    .map(([name, v]) => `${name}=${v}`)
    .join(', ');
}

/**
 * The default --help and the configuration reference show: `defaultText` when the spec has one,
 * else its `default` as a user would write it; undefined for none, or an empty list or mapping.
 */
export function defaultTextOf(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return undefined;
  const text = written(spec.default, spec.unit);
  return text === '' ? undefined : text;
}

/** The default as the lowest configuration source, a value the option's schema reads as it reads one from YAML; undefined for none. */
export function defaultSourceValue(spec: OptionSpec): unknown {
  // A bare number is seconds to the duration parser (YAML `readerTimeout: 60`): milliseconds go in written out.
  if (spec.unit === 'ms' && typeof spec.default === 'number') return formatDurationOption(spec.default);
  return spec.default;
}
