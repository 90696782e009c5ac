import type { Stats } from 'node:fs';

/*
 * Files that hold secrets (CA private keys, secrets.key, the key passphrase file, the ledger's
 * password file) must be for the owner only. A secret that group or others could read may already
 * be copied; one they could write may already be replaced. certmint refuses to use such a file
 * rather than repair it: whoever loosened the mode should know, and decide.
 */

/** The refusal for a secret file whose mode lets group or others read or write it; undefined when it is private. */
export function looseModeProblem(path: string, stats: Stats, label: string): string | undefined {
  // Windows has no POSIX modes: what node reports there means nothing.
  if (process.platform === 'win32' || !stats.isFile() || (stats.mode & 0o066) === 0) return undefined;
  const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
  return `${label} has mode ${mode}: group or others may read or write it, so certmint will not use it. Fix: chmod 600 ${path}`;
}
