import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

export const IDENTITY_FILE = 'identity.key';

/**
 * The node's persistent Ed25519 identity under `dataDir`, created on first
 * start. A stable peer id lets the scheduler recognise a restarted peer.
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, IDENTITY_FILE);
  try {
    return privateKeyFromProtobuf(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read node identity ${path}: ${(error as Error).message}`);
    }
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' }).catch(async (error) => {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  });
  await chmod(path, 0o600);
  return privateKeyFromProtobuf(await readFile(path));
}
