import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256Digest } from '../src/digest.ts';
import { OciError } from '../src/errors.ts';
import type { Descriptor } from '../src/manifest.ts';
import { formatPlatform, parsePlatform, selectPlatformManifest } from '../src/platform.ts';

function entry(platform: string): Descriptor {
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: sha256Digest(platform),
    size: 1,
    platform: parsePlatform(platform),
  };
}

describe('platforms', () => {
  it('parses os/architecture[/variant] and formats it back', () => {
    assert.deepEqual(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.equal(formatPlatform(parsePlatform('linux/arm/v7')), 'linux/arm/v7');
    for (const bad of ['linux', 'linux/', '/amd64', 'a/b/c/d', 'Linux/AMD64', 'linux/amd 64', '']) {
      assert.throws(() => parsePlatform(bad), OciError, bad);
    }
  });

  it("picks an index's manifest by os, architecture and variant", () => {
    const amd64 = entry('linux/amd64');
    const arm64v8 = entry('linux/arm64/v8');
    const armv6 = entry('linux/arm/v6');
    const armv7 = entry('linux/arm/v7');
    const index = [armv6, amd64, armv7, arm64v8];
    assert.equal(selectPlatformManifest(index, parsePlatform('linux/amd64')), amd64);
    assert.equal(selectPlatformManifest(index, parsePlatform('linux/arm/v7')), armv7);
    assert.equal(selectPlatformManifest(index, parsePlatform('linux/arm64')), arm64v8);
    assert.equal(selectPlatformManifest(index, parsePlatform('linux/arm')), armv6, 'first listed');
    assert.equal(selectPlatformManifest(index, parsePlatform('linux/s390x')), undefined);
    assert.equal(selectPlatformManifest(index, parsePlatform('windows/amd64')), undefined);
    const plainArm64 = entry('linux/arm64');
    assert.equal(selectPlatformManifest([arm64v8, plainArm64], parsePlatform('linux/arm64')), plainArm64);
    assert.equal(selectPlatformManifest([plainArm64], parsePlatform('linux/arm64/v8')), plainArm64);
  });
});
