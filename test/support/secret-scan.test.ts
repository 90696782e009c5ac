import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEabKey } from '../../src/ra/eab.js';
import { startTestAcmeApp, type TestAcmeApp } from './acme-app.js';
import { linesLeakingSecrets, secretsOfDataDir } from './secret-scan.js';

// The scan every certmint process of the e2e suites goes through when it stops: it must catch what it claims to.
describe('the secret scan of server logs', () => {
  let t: TestAcmeApp;
  beforeAll(async () => {
    t = await startTestAcmeApp();
  });
  afterAll(async () => t?.close());

  it('finds CA key material, EAB HMAC keys, the sealing key and passphrases, and nothing in clean lines', async () => {
    const eab = await createEabKey(t.ra.deps, { label: 'scan' }, 'operator:test');
    const secrets = await secretsOfDataDir(t.dir, ['correct horse battery']);
    const keyLine = (await readFile(path.join(t.dir, 'ca', 'intermediate.key.pem'), 'utf8')).split('\n')[1]!;
    const sealing = Buffer.from((await readFile(path.join(t.dir, 'ca', 'secrets.key'), 'utf8')).trim(), 'base64');
    const clean = '{"level":30,"reqId":"req-1","account":"abc","msg":"issued a certificate","serial":"01ab"}';
    const leaking = [
      `{"level":50,"msg":"cannot import ${keyLine.slice(0, 64)}"}`,
      `{"level":30,"hmac":"${eab.hmacKey}"}`,
      `{"level":30,"k":"${sealing.toString('hex')}"}`,
      '{"err":"-----BEGIN PRIVATE KEY-----"}',
      '{"msg":"passphrase correct horse battery refused"}',
    ];
    expect(linesLeakingSecrets(clean, secrets)).toEqual([]);
    for (const line of leaking) expect(linesLeakingSecrets(`${clean}\n${line}\n${clean}`, secrets)).toHaveLength(1);
    // The report does not repeat the secret it found.
    expect(linesLeakingSecrets(leaking[1]!, secrets)[0]).not.toContain(eab.hmacKey);
  });
});
