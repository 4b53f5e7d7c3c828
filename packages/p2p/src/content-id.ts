import { CID } from 'multiformats/cid';
import { create as createMultihash } from 'multiformats/hashes/digest';

const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;

/** The DHT key of a blob: a raw CID whose multihash is the blob's own sha256 digest. */
export function blobCid(digest: string): CID {
  const hex = digest.startsWith('sha256:') ? digest.slice('sha256:'.length) : digest;
  if (!/^[a-f0-9]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
  return CID.createV1(RAW_CODEC, createMultihash(SHA2_256, Buffer.from(hex, 'hex')));
}
