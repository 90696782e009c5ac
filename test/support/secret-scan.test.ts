import { createPrivateKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEabKey } from '../../src/ra/eab.js';
import { startTestAcmeApp, type TestAcmeApp } from './acme-app.js';
import { leakFinder, linesLeakingSecrets, scanLogDir, secretsOfDataDir } from './secret-scan.js';
import { SUITE_LOG_DIR } from './suite-log.js';

// The scans every certmint process, every in-process app and the whole run's logs go through:
// they must catch what they claim to. Secrets are planted only in files of these tests' own, never
// in the run's log directory (that would fail the real run).
describe('the secret scan of server logs', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp();
  });
  afterAll(async () => t?.close());

  it('finds CA key material, EAB HMAC keys, the sealing key and passphrases, and nothing in clean lines', async () => {
    const eab = await createEabKey(t.ra.deps, { label: 'scan' }, 'operator:test');
    const secrets = await secretsOfDataDir(t.dir, ['correct horse battery']);
    const keyPem = await readFile(path.join(t.dir, 'ca', 'intermediate.key.pem'), 'utf8');
    const keyLine = keyPem.split('\n')[1]!;
    const keyDer = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
    const scalar = createPrivateKey(keyPem).export({ format: 'jwk' }).d!;
    const sealing = Buffer.from((await readFile(path.join(t.dir, 'ca', 'secrets.key'), 'utf8')).trim(), 'base64');
    const clean = '{"level":30,"reqId":"req-1","account":"abc","msg":"issued a certificate","serial":"01ab"}';
    const leaking = [
      `{"level":50,"msg":"cannot import ${keyLine.slice(0, 64)}"}`,
      // The whole key as one base64 string, not as PEM lines.
      `{"level":50,"key":"${keyDer.toString('base64')}"}`,
      // Its private scalar, as a JWK (or a debugger) shows it.
      `{"level":20,"jwk":{"kty":"EC","d":"${scalar}"}}`,
      `{"level":30,"d":"${Buffer.from(scalar, 'base64url').toString('hex')}"}`,
      `{"level":30,"hmac":"${eab.hmacKey}"}`,
      `{"level":30,"k":"${sealing.toString('hex')}"}`,
      '{"err":"-----BEGIN PRIVATE KEY-----"}',
      '{"msg":"passphrase correct horse battery refused"}',
    ];
    expect(linesLeakingSecrets(clean, secrets)).toEqual([]);
    for (const line of leaking) expect(linesLeakingSecrets(`${clean}\n${line}\n${clean}`, secrets), line).toHaveLength(1);
    // The report does not repeat the secret it found.
    expect(linesLeakingSecrets(leaking[4]!, secrets)[0]).not.toContain(eab.hmacKey);
  });

  it('finds a secret anywhere in a longer run of base64, and passes lines with only parts of it', () => {
    const secret = 'Qm9ndXMgc2VjcmV0IGZvciB0aGUgc2NhbiB0ZXN0IG9ubHk';
    const leaks = leakFinder([secret, 'a passphrase']);
    expect(leaks(`{"x":"AAAA${secret}BBBB"}`)).toBe(true);
    expect(leaks(`prefix ${secret}`)).toBe(true);
    expect(leaks(`{"x":"${secret.slice(0, -1)}"}`)).toBe(false);
    expect(leaks(`{"x":"${secret.slice(1)}"}`)).toBe(false);
    expect(leaks('{"msg":"not a passphrase"}')).toBe(true);
    expect(leaks('{"msg":"nothing here"}')).toBe(false);
  });

  it('in-process apps log like certmint serve, to a buffer their close() scans', () => {
    expect(t.logText()).toMatch(/"msg":"published a CRL"/);
  });
});

describe('the scan of the whole run\'s logs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-scan-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails on a planted registered secret and on a PEM private key, names the file, and counts what it read', async () => {
    const secret = Buffer.from('a registered EAB key of some app, 32 bytes').toString('base64url');
    mkdirSync(path.join(dir, 'secrets'));
    writeFileSync(path.join(dir, 'secrets', '1-1.json'), JSON.stringify([secret, 'hunter2 hunter2']));
    writeFileSync(path.join(dir, '1-2-certmint-serve.log'), '{"level":30,"msg":"clean"}\n{"level":30,"msg":"also clean"}\n');
    expect(await scanLogDir(dir)).toMatchObject({ files: 1, lines: 2, secrets: 2, leaks: [] });

    writeFileSync(path.join(dir, '2-1-acme-app.log'), `{"level":30,"msg":"clean"}\n{"level":50,"hmac":"${secret}"}\n`);
    writeFileSync(path.join(dir, '2-2-certmint-eab.log'), 'certmint: bad passphrase hunter2 hunter2\n-----BEGIN EC PRIVATE KEY-----\n');
    const scan = await scanLogDir(dir);
    expect(scan).toMatchObject({ files: 3, lines: 6, secrets: 2 });
    expect(scan.leaks).toHaveLength(3);
    expect(scan.leaks[0]).toMatch(/^2-1-acme-app\.log: /);
    expect(scan.leaks.join('\n')).not.toContain(secret);
  });

  it('is where this run writes: the global setup gave the workers a log directory', () => {
    expect(process.env[SUITE_LOG_DIR]).toMatch(/certmint-test-logs-/);
  });
});

describe('an in-process app whose log holds a secret', () => {
  it('fails its close()', async () => {
    // Started without the run's log directory, so the planted line stays out of the real scan.
    const runDir = process.env[SUITE_LOG_DIR];
    delete process.env[SUITE_LOG_DIR];
    try {
      const app = await startTestAcmeApp();
      const keyLine = (await readFile(path.join(app.dir, 'ca', 'root.key.pem'), 'utf8')).split('\n')[2]!;
      app.app.log.debug({ material: keyLine }, 'a careless debug line');
      await expect(app.close()).rejects.toThrow(/logged secrets in 1 line/);
    } finally {
      if (runDir) process.env[SUITE_LOG_DIR] = runDir;
    }
  });
});
