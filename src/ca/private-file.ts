import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { looseModeProblem } from '../core/private-file-mode.js';
import { CaError, errorCode, errorText } from './ca-file-io.js';

// The mode rule is shared with the ledger's password file, so it lives in core/.
export { looseModeProblem };

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
