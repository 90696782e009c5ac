import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scanLogDir } from './secret-scan.js';
import { SUITE_LOG_DIR } from './suite-log.js';

// vitest globalSetup: gives the run a log directory that every certmint process and every logger
// of the tests append to (suite-log.ts), and at the end scans all of it: no PEM private key and no
// secret any test's server or app registered (CA key material, EAB HMAC keys, the EAB sealing key,
// passphrases) may appear in any line. A leak fails the run, and the directory is kept to look at.

let dir: string | undefined;

export function setup(): void {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-test-logs-'));
  // Workers are started after this and inherit it.
  process.env[SUITE_LOG_DIR] = dir;
}

export async function teardown(): Promise<void> {
  if (!dir) return;
  const scan = await scanLogDir(dir);
  console.log(
    `log scan: ${scan.lines} log lines (${(scan.bytes / 1e6).toFixed(1)} MB) in ${scan.files} files checked for private keys and ` +
      `${scan.secrets} registered secrets in ${scan.ms} ms`,
  );
  if (scan.leaks.length > 0) {
    // vitest reports an error thrown here but still exits 0: set the exit code ourselves.
    process.exitCode = 1;
    throw new Error(`secrets in ${scan.leaks.length} log line(s) of this run (logs kept in ${dir}):\n${scan.leaks.slice(0, 20).join('\n')}`);
  }
  rmSync(dir, { recursive: true, force: true });
}
