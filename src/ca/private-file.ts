import { closeSync, fstatSync, openSync, readFileSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { CaError, errorCode, errorText } from './ca-file-io.js';

/*
 * Files that hold secrets (CA private keys, secrets.key, the key passphrase file) must be for the
 * owner only. A key that group or others could read may already be copied; one they could write
 * may already be replaced. certmint refuses to use such a file rather than repair it: whoever
 * loosened the mode should know, and decide.
 */

/** The refusal for a secret file whose mode lets group or others read or write it; undefined when it is private. */
export function looseModeProblem(path: string, stats: Stats, label: string): string | undefined {
  // Windows has no POSIX modes: what node reports there means nothing.
  if (process.platform === 'win32' || !stats.isFile() || (stats.mode & 0o066) === 0) return undefined;
  const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
  return `${label} has mode ${mode}: group or others may read or write it, so certmint will not use it. Fix: chmod 600 ${path}`;
}

/**
 * Reads a secret file (`label` names it in errors, path included) after checking its mode on the open descriptor (no window between the check
 * and the read). ENOENT is returned as undefined; other failures throw CaError naming the file.
 */
export async function readPrivateFile(path: string, label: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return undefined;
    throw new CaError(`${label} cannot be read: ${errorText(e)}`);
  }
  try {
    const problem = looseModeProblem(path, await handle.stat(), label);
    if (problem) throw new CaError(problem);
    return await handle.readFile();
  } catch (e) {
    if (e instanceof CaError) throw e;
    throw new CaError(`${label} cannot be read: ${errorText(e)}`);
  } finally {
    await handle.close();
  }
}

/** readPrivateFile for start-up code that is synchronous (the config's passphrase file). */
export function readPrivateFileSync(path: string, label: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CaError(`${label} cannot be read: ${errorText(e)}`);
  }
  try {
    const problem = looseModeProblem(path, fstatSync(fd), label);
    if (problem) throw new CaError(problem);
    return readFileSync(fd);
  } catch (e) {
    if (e instanceof CaError) throw e;
    throw new CaError(`${label} cannot be read: ${errorText(e)}`);
  } finally {
    closeSync(fd);
  }
}
