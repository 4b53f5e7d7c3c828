import { OciError } from './errors.ts';
import type { Descriptor, Platform } from './manifest.ts';

/** The platform picked from an index when none is asked for. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const PART = /^[a-z0-9._-]{1,64}$/;

/** Parses `os/architecture[/variant]`, e.g. `linux/arm64/v8`. */
export function parsePlatform(value: string): Platform {
  const parts = value.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((part) => PART.test(part))) {
    throw new OciError(
      'UNSUPPORTED',
      `invalid platform "${value.slice(0, 80)}": expected os/architecture[/variant], e.g. linux/amd64`,
    );
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/**
 * The manifest of an index for `wanted`: same os and architecture, and the same variant when one
 * is asked for (an entry without a variant matches any). Without a variant, an entry that has
 * none is preferred, then the first listed, as container runtimes do for arm64's v8.
 */
export function selectPlatformManifest(
  manifests: readonly Descriptor[],
  wanted: Platform,
): Descriptor | undefined {
  const candidates = manifests.filter(
    (entry) =>
      entry.platform?.os === wanted.os &&
      entry.platform.architecture === wanted.architecture &&
      (wanted.variant === undefined ||
        entry.platform.variant === undefined ||
        entry.platform.variant === wanted.variant),
  );
  if (wanted.variant !== undefined) {
    return candidates.find((entry) => entry.platform?.variant === wanted.variant) ?? candidates[0];
  }
  return candidates.find((entry) => entry.platform?.variant === undefined) ?? candidates[0];
}
