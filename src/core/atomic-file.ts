import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/*
 * Every file certmint replaces in place (CRLs, the server's TLS key and certificate, the active
 * intermediate's number, backup archives) and every file it creates once (CA keys and
 * certificates, secrets.key) is written through this module, so they all keep one promise.
 * See docs/architecture.md#files-on-disk.
 */

/** What goes into the file: bytes, text, or a writer for contents too big to hold (a backup archive). */
export type FileContents = string | Uint8Array | ((file: FileHandle) => Promise<void>);

export interface AtomicWriteOptions {
  /** The file's mode, exactly (the umask does not apply): 0o600 for anything secret. */
  readonly mode: number;
  /** Ends the temporary file's name; `.tmp` unless given (backups use `.partial`). */
  readonly tempSuffix?: string;
}

const DEFAULT_SUFFIX = '.tmp';

/**
 * Replaces `target` with `contents`. Guarantee: a reader at any moment, and the file system
 * after a crash or power cut at any moment, finds `target` holding either its old contents or
 * the new contents in full, never a mix, an empty file or a missing one (unless it was missing
 * before); once the promise resolves, the new contents survive a power cut.
 *
 * How: the contents go to a new temporary file in the same directory (created with O_EXCL and
 * the final mode, so a key is never readable by others even for a moment), which is fsynced,
 * renamed over `target` (atomic within one file system), and then the directory is fsynced so
 * the rename itself is on disk (ext4 and XFS can otherwise persist the rename before the data it
 * names, or lose it). On failure the temporary file is removed and `target` is untouched.
 * Concurrent writers each use their own temporary file: the last rename wins, whole.
 */
export async function writeFileAtomically(target: string, contents: FileContents, options: AtomicWriteOptions): Promise<void> {
  const temp = tempPathFor(target, options.tempSuffix);
  try {
    await createSyncedFile(temp, contents, options.mode);
    await rename(temp, target);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await syncDirectory(path.dirname(target));
}

/**
 * Creates `file` (it must not exist: O_EXCL) with exactly `mode`, writes `contents` and fsyncs
 * it. A file that could not be written whole is removed. For callers that put the file under its
 * final name themselves (a hard link that must not replace anything); they then owe a
 * syncDirectory.
 */
export async function createSyncedFile(file: string, contents: FileContents, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.chmod(mode); // whatever the umask
    if (typeof contents === 'function') await contents(handle);
    else await handle.writeFile(contents);
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw e;
  }
  await handle.close();
}

/** A fresh hidden name beside `target` (`.<name>.<random hex><suffix>`): same directory, so same file system. */
export function tempPathFor(target: string, suffix = DEFAULT_SUFFIX): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}${suffix}`);
}

/** Whether a directory entry is a temporary file of a write in progress (or of one a crash cut short). */
export function isAtomicWriteTemp(name: string): boolean {
  return name.startsWith('.') && name.endsWith(DEFAULT_SUFFIX);
}

/**
 * Makes the names in `dir` (a rename, a new link) durable. Linux needs this; Windows cannot open
 * a directory, and some network file systems refuse to sync one: there, the rename is as durable
 * as that system makes it. A real I/O error is thrown.
 */
export async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
  } finally {
    await handle.close();
  }
}
