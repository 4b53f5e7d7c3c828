import { rename, rm, writeFile } from 'node:fs/promises';
import { tempPathFor } from './paths.ts';

/** Writes a whole small file atomically: readers see the old or the new content, never a torn one. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = tempPathFor(path);
  try {
    await writeFile(temp, data);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
