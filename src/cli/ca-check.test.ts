import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { makeSoftHsmToken, SOFTHSM_MODULE, softHsmAvailable, type SoftHsmToken } from '../../test/support/softhsm.js';

// certmint ca check (the built binary) against a SoftHSM token holding keys made by pkcs11-tool.
const available = softHsmAvailable();

describe.skipIf(!available)('certmint ca check', () => {
  let hsm: SoftHsmToken;
  let dir: string;
  const pinFile = (name: string, pin: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, `${pin}\n`, { mode: 0o600 });
    return file;
  };
  const check = (env: Record<string, string>) =>
    runCli(['ca', 'check'], {
      ...hsm.env,
      CERTMINT_DATA_DIR: dir,
      CERTMINT_CA_KEY_PROVIDER: 'pkcs11',
      CERTMINT_CA_PKCS11_MODULE: SOFTHSM_MODULE,
      CERTMINT_CA_PKCS11_TOKEN: hsm.label,
      CERTMINT_CA_PKCS11_PIN_FILE: pinFile('pin', hsm.pin),
      CERTMINT_CA_PKCS11_INTERMEDIATE_KEY: 'pkcs11:object=certmint-intermediate',
      CERTMINT_CA_PKCS11_ROOT_KEY: 'pkcs11:id=%52',
      ...env,
    });

  beforeAll(() => {
    requireBuiltCli();
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-ca-check-'));
    hsm = makeSoftHsmToken();
    hsm.pkcs11Tool(['--token-label', hsm.label, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'certmint-intermediate', '--id', '01']);
    hsm.pkcs11Tool(['--token-label', hsm.label, '--keypairgen', '--key-type', 'rsa:2048', '--label', 'certmint-root', '--id', '52']);
  });
  afterAll(() => {
    hsm.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every step against a token with both keys, and exits 0', async () => {
    const result = await check({});
    expect(result.stderr).toBe('');
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^ok {3}load module .*libsofthsm2\.so and list its tokens: "certmint" \(serial [0-9a-f]+, model SoftHSM v2\)$/),
      expect.stringMatching(/^ok {3}read the PIN file .*pin$/),
      'ok   open token "certmint" and log in',
      'ok   find the intermediate key pkcs11:object=certmint-intermediate: ecdsa-p256',
      'ok   mechanisms for the intermediate key (ecdsa-p256)',
      'ok   sign a test digest with the intermediate key and verify it with its public key',
      'ok   find the root key pkcs11:id=%52: rsa-2048',
      'ok   mechanisms for the root key (rsa-2048)',
      'ok   sign a test digest with the root key and verify it with its public key',
    ]);
    expect(result.code).toBe(0);
  });

  it('prints a FAIL line with the return code and its meaning for a wrong PIN, and exits 1', async () => {
    const wrong = `${hsm.pin}x`;
    const result = await check({ CERTMINT_CA_PKCS11_PIN_FILE: pinFile('wrong-pin', wrong) });
    expect(result.stdout).toContain(
      'FAIL open token "certmint" and log in: PKCS#11 login to token "certmint" failed: CKR_PIN_INCORRECT (the PIN in ca.pkcs11.pinFile is wrong)',
    );
    expect(result.stdout + result.stderr).not.toContain(hsm.pin);
    expect(result.code).toBe(1);
  });

  it('never prints a pin-value a key URI carries in its query (RFC 7512 allows one; certmint refuses it)', async () => {
    const result = await check({ CERTMINT_CA_PKCS11_INTERMEDIATE_KEY: 'pkcs11:object=certmint-intermediate?pin-value=s3cr3t-in-uri' });
    expect(result.stdout).toContain('FAIL find the intermediate key pkcs11:object=certmint-intermediate: ');
    expect(result.stdout + result.stderr).not.toContain('s3cr3t-in-uri');
    expect(result.code).toBe(1);
  });

  it('fails the steps that cannot pass: a key not on the token, a module that is not there', async () => {
    const missingKey = await check({ CERTMINT_CA_PKCS11_ROOT_KEY: 'pkcs11:object=nowhere' });
    expect(missingKey.stdout).toContain('ok   sign a test digest with the intermediate key');
    expect(missingKey.stdout).toContain('FAIL find the root key pkcs11:object=nowhere: no private key on the token matches pkcs11:object=nowhere');
    expect(missingKey.code).toBe(1);
    // With ca.offlineRoot the root key's absence is expected, and said.
    const offline = await check({ CERTMINT_CA_PKCS11_ROOT_KEY: 'pkcs11:object=nowhere', CERTMINT_CA_OFFLINE_ROOT: 'true' });
    expect(offline.stdout).toContain(
      'ok   the root key pkcs11:object=nowhere is not on the token: kept offline (ca.offlineRoot); bring it back for crl generate --root and the rotations',
    );
    expect(offline.code).toBe(0);
    const offlinePresent = await check({ CERTMINT_CA_OFFLINE_ROOT: 'true' });
    expect(offlinePresent.stdout).toContain('ok   sign a test digest with the root key and verify it with its public key');
    const noModule = await check({ CERTMINT_CA_PKCS11_MODULE: path.join(dir, 'libvendor.so') });
    expect(noModule.stdout.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^FAIL load module .*libvendor\.so and list its tokens: PKCS#11 module .*libvendor\.so \(ca\.pkcs11\.module\) cannot be loaded: no such file/),
    ]);
    expect(noModule.code).toBe(1);
  });
});

describe('certmint ca check with ca.keyProvider file', () => {
  it('loads the key files (a test signature each) and says ok; without a CA it fails with the reason', async () => {
    requireBuiltCli();
    const dir = mkdtempSync(path.join(tmpdir(), 'certmint-ca-check-file-'));
    try {
      const before = await runCli(['ca', 'check'], { CERTMINT_DATA_DIR: dir });
      expect(before.stdout).toMatch(/^FAIL ca\.keyProvider file: load the CA keys in .* and test-sign with each: /);
      expect(before.code).toBe(1);
      expect((await runCli(['ca', 'init'], { CERTMINT_DATA_DIR: dir })).code).toBe(0);
      const after = await runCli(['ca', 'check'], { CERTMINT_DATA_DIR: dir });
      expect(after.stdout).toBe(`ok   ca.keyProvider file: load the CA keys in ${dir}/ca and test-sign with each\n`);
      expect(after.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
