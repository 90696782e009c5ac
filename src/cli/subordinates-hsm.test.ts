import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { makeSoftHsmToken, SOFTHSM_MODULE, softHsmAvailable, type SoftHsmToken } from '../../test/support/softhsm.js';

// certmint ca issue-istio-ca and sign-subordinate with the CA keys on a SoftHSM token: the root
// signs on the token; the plug-in CA's own key is a file, since istiod reads ca-key.pem.
const available = softHsmAvailable();

describe.skipIf(!available)('subordinate CAs with the CA keys on a PKCS#11 token', () => {
  let hsm: SoftHsmToken;
  let dir: string;
  const certmint = (args: string[]) =>
    runCli(args, {
      ...hsm.env,
      CERTMINT_DATA_DIR: path.join(dir, 'data'),
      CERTMINT_CA_KEY_PROVIDER: 'pkcs11',
      CERTMINT_CA_PKCS11_MODULE: SOFTHSM_MODULE,
      CERTMINT_CA_PKCS11_TOKEN: hsm.label,
      CERTMINT_CA_PKCS11_PIN_FILE: path.join(dir, 'pin'),
      CERTMINT_CA_PKCS11_INTERMEDIATE_KEY: 'pkcs11:object=certmint-intermediate',
      CERTMINT_CA_PKCS11_ROOT_KEY: 'pkcs11:object=certmint-root',
    });

  beforeAll(async () => {
    requireBuiltCli();
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-subordinates-hsm-'));
    hsm = makeSoftHsmToken();
    writeFileSync(path.join(dir, 'pin'), `${hsm.pin}\n`, { mode: 0o600 });
    const init = await certmint(['ca', 'init']);
    if (init.code !== 0) throw new Error(`certmint ca init failed: ${init.stderr}`);
  }, 60_000);
  afterAll(() => {
    hsm?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the root on the token signs the Istio CA, whose key is a 0600 file; no root key file exists', { timeout: 60_000 }, async () => {
    const out = path.join(dir, 'istio');
    const r = await certmint(['ca', 'issue-istio-ca', '--trust-domain', 'cluster.local', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, 'data', 'ca', 'root.key.pem'))).toBe(false);
    expect(statSync(path.join(out, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(out, 'ca-key.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const verify = spawnSync('openssl', ['verify', '-x509_strict', '-CAfile', path.join(out, 'root-cert.pem'), path.join(out, 'ca-cert.pem')], { encoding: 'utf8' });
    expect(verify.stdout).toContain(': OK');
  });
});
