import { randomBytes } from 'node:crypto';
import { copyFile, open, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Kept beside a file of someone else's that a command replaced, and put back by its undo. */
export const BACKUP_SUFFIX = '.shoal-backup';

export type ManagedAction =
  /** a new file, no previous one */
  | 'written'
  /** a file of someone else's was replaced and kept as the backup */
  | 'replaced'
  /** a file written earlier by this command was rewritten */
  | 'updated'
  /** the file already had this content */
  | 'unchanged'
  /** undo: the backup was put back */
  | 'restored'
  /** undo: the file was deleted (there was nothing before it) */
  | 'removed'
  /** undo: nothing to do */
  | 'absent'
  /** undo: the file is not one of ours; left alone */
  | 'foreign';

export interface ManagedChange {
  file: string;
  action: ManagedAction;
  backup?: string;
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes `path` atomically: a temporary file in the same directory, flushed, then renamed over it. */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  }
}

/**
 * Writes a configuration file whose text starts with `marker`. A file there without the marker (someone
 * else's) is kept as <file>.shoal-backup first, so that `removeManagedFile` can put it back.
 */
export async function installManagedFile(file: string, text: string, marker: string): Promise<ManagedChange> {
  const backup = `${file}${BACKUP_SUFFIX}`;
  const current = await readIfExists(file);
  if (current === text) return { file, action: 'unchanged' };
  if (current !== undefined && !current.startsWith(marker)) {
    // Copy, not rename: readers keep seeing a complete file until the atomic replace below.
    const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.backup.tmp`);
    await copyFile(file, tmp);
    await rename(tmp, backup);
    await writeFileAtomic(file, text);
    return { file, action: 'replaced', backup };
  }
  await writeFileAtomic(file, text);
  return { file, action: current === undefined ? 'written' : 'updated' };
}

/**
 * Undoes `installManagedFile`: restores the backup, else deletes the file (and, with `removeEmptyDir`,
 * its directory when nothing else is left in it). A file without the marker is left alone.
 */
export async function removeManagedFile(
  file: string,
  marker: string,
  options: { removeEmptyDir?: boolean } = {},
): Promise<ManagedChange> {
  const backup = `${file}${BACKUP_SUFFIX}`;
  const current = await readIfExists(file);
  if (current !== undefined && !current.startsWith(marker)) return { file, action: 'foreign' };
  if ((await readIfExists(backup)) !== undefined) {
    await rename(backup, file);
    await syncDir(dirname(file));
    return { file, action: 'restored', backup };
  }
  if (current === undefined) return { file, action: 'absent' };
  await rm(file, { force: true });
  if (options.removeEmptyDir) {
    try {
      await rmdir(dirname(file));
    } catch {
      // Not empty (certificates or other files live there): keep it.
    }
  }
  return { file, action: 'removed' };
}

/** One line for the user about a change to a file; `what` names the file's subject, `command` the writer. */
export function describeManagedChange(what: string, change: ManagedChange, command: string): string {
  const { file, backup } = change;
  switch (change.action) {
    case 'written':
      return `${what}: wrote ${file}`;
    case 'replaced':
      return `${what}: wrote ${file} (the previous file is kept as ${backup})`;
    case 'updated':
      return `${what}: updated ${file}`;
    case 'unchanged':
      return `${what}: ${file} is up to date`;
    case 'restored':
      return `${what}: restored ${file} from ${backup}`;
    case 'removed':
      return `${what}: removed ${file}`;
    case 'absent':
      return `${what}: nothing to remove at ${file}`;
    case 'foreign':
      return `${what}: left ${file} alone: it was not written by ${command}`;
  }
}
