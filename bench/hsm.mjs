// The HSM row of `npm run bench` (issue 23): the same issuance load against certmint with its
// intermediate key on a SoftHSM token (ca.keyProvider pkcs11) beside the file key. The token lives
// in a temporary directory of its own (SOFTHSM2_CONF), as in the tests.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** Why the HSM row cannot run here, or null. */
export function softHsmUnavailable() {
  if (!existsSync(SOFTHSM_MODULE)) return `${SOFTHSM_MODULE} is missing (apt-get install softhsm2)`;
  try {
    execFileSync('softhsm2-util', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'softhsm2-util is missing (apt-get install softhsm2)';
  }
  return null;
}

/**
 * A fresh SoftHSM token in `dir`, its PIN in a 0600 file, and the `ca:` lines of a certmint config
 * that keep the intermediate key on it (the root key stays a file: it signs nothing under load).
 * Sets SOFTHSM2_CONF in this process, which certmint serve inherits.
 */
export function softHsmCa(dir) {
  const tokenDir = path.join(dir, 'tokens');
  mkdirSync(tokenDir, { recursive: true });
  const conf = path.join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  const pin = randomBytes(8).toString('hex');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', pin, '--so-pin', `${pin}so`], { stdio: 'ignore' });
  const pinFile = path.join(dir, 'pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  return [
    'ca:',
    '  keyProvider: pkcs11',
    '  pkcs11:',
    `    module: ${JSON.stringify(SOFTHSM_MODULE)}`,
    '    token: bench',
    `    pinFile: ${JSON.stringify(pinFile)}`,
    '    intermediateKey: "pkcs11:object=bench-intermediate"',
  ];
}
