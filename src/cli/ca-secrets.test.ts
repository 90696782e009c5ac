import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, requireBuiltCli, type CliResult } from '../../test/support/cli.js';
import { startCertmint, type CertmintProcess } from '../../test/support/certmint-process.js';

// Encrypted CA keys and private file modes, through the built CLI on real files: `certmint serve`
// creates an encrypted CA, then refuses to start without the passphrase, with a wrong one, and with
// a key, secrets.key or passphrase file that group or others may read.
const PASSPHRASE = 'tr0ub4dor-and-3-more-words';
const WRONG = 'wrong-horse-battery-staple';
let secrets: string;
let passFile: string;
let certmint: CertmintProcess | undefined;

beforeAll(() => {
  requireBuiltCli();
  secrets = mkdtempSync(path.join(tmpdir(), 'certmint-secrets-'));
  passFile = path.join(secrets, 'ca-passphrase');
  writeFileSync(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await certmint?.stop();
  rmSync(secrets, { recursive: true, force: true });
});

/** No passphrase and no private key block ever reaches the output. */
function expectNoSecrets(r: CliResult): void {
  for (const text of [r.stdout, r.stderr]) {
    expect(text).not.toContain(PASSPHRASE);
    expect(text).not.toContain(WRONG);
    expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  }
}

describe('CA keys kept like secrets', () => {
  it('serve creates encrypted keys from the passphrase file and refuses to start without it, with a wrong one, or with loose modes', { timeout: 120_000 }, async () => {
    certmint = await startCertmint({ env: { CERTMINT_CA_KEY_PASSPHRASE_FILE: passFile } });
    const ca = path.join(certmint.dataDir, 'ca');
    for (const key of ['root.key.pem', 'intermediate.key.pem']) {
      const file = path.join(ca, key);
      expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(execFileSync('openssl', ['pkey', '-in', file, '-passin', `file:${passFile}`, '-noout'], { encoding: 'utf8' })).toBe('');
    }
    expect(statSync(path.join(ca, 'secrets.key')).mode & 0o777).toBe(0o600);
    expect(certmint.output()).not.toContain(PASSPHRASE);

    const config = path.join(certmint.tempDir, 'certmint.yaml');
    const serve = (env: Record<string, string>) => runCli(['serve', '--config', config], { CERTMINT_SERVER_LISTEN: '127.0.0.1:0', ...env });
    const rootKey = path.join(ca, 'root.key.pem');
    certmint = await certmint.restart(async () => {
      const none = await serve({});
      expect(none.code).toBe(1);
      expect(none.stderr).toBe(
        `certmint: CA file ${rootKey} (the root CA private key) is an encrypted private key and no passphrase is configured: ` +
          'set ca.keyPassphraseFile (env CERTMINT_CA_KEY_PASSPHRASE_FILE) or CERTMINT_CA_KEY_PASSPHRASE\n',
      );

      const wrong = await serve({ CERTMINT_CA_KEY_PASSPHRASE: WRONG });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toBe(
        `certmint: cannot decrypt CA file ${rootKey} (the root CA private key): wrong passphrase? (it came from CERTMINT_CA_KEY_PASSPHRASE)\n`,
      );
      expectNoSecrets(wrong);
      const wrongFile = path.join(secrets, 'wrong');
      writeFileSync(wrongFile, WRONG, { mode: 0o400 });
      const wrongInFile = await serve({ CERTMINT_CA_KEY_PASSPHRASE_FILE: wrongFile, CERTMINT_CA_KEY_PASSPHRASE: PASSPHRASE });
      // The file wins over the variable.
      expect(wrongInFile.stderr).toContain(`wrong passphrase? (it came from the file ${wrongFile} (ca.keyPassphraseFile))`);
      expectNoSecrets(wrongInFile);

      // The variable alone is enough for an admin command that signs (a CRL).
      const crl = await runCli(['crl', 'generate', '--config', config], { CERTMINT_CA_KEY_PASSPHRASE: PASSPHRASE });
      expect(crl.stderr).toBe('');
      expect(crl.code).toBe(0);
      expectNoSecrets(crl);

      for (const [file, mode] of [
        [path.join(ca, 'intermediate.key.pem'), 0o640],
        [path.join(ca, 'secrets.key'), 0o644],
        [passFile, 0o604],
      ] as const) {
        chmodSync(file, mode);
        const loose = await serve({ CERTMINT_CA_KEY_PASSPHRASE_FILE: passFile });
        chmodSync(file, 0o600);
        expect(loose.code).toBe(1);
        expect(loose.stderr).toContain(`${file}`);
        expect(loose.stderr).toContain(`has mode 0${mode.toString(8)}: group or others may read or write it`);
        expect(loose.stderr).toMatch(new RegExp(`Fix: chmod 600 ${file.replace(/[.]/g, '\\.')}\\n$`));
      }
    });
    // With the file and the modes back, it starts again.
    expect(certmint.rootPem).toContain('-----BEGIN CERTIFICATE-----');
  });
});
