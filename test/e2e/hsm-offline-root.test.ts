import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { fetchDer, issue, openssl, pkcs11Config, privateKeyObjects, ROOT_URI } from '../support/hsm-serve.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { makeSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../support/softhsm.js';

// ca.offlineRoot with ca.pkcs11.rootKey: the root key is an object on a SoftHSM token of the
// test's own, deleted from it while certmint serves, and brought back (the token restored from
// the operator's copy) for `certmint crl generate --root`. The file-key case: offline-root.test.ts.

describe.skipIf(!softHsmAvailable())('ca.offlineRoot with the root key on a PKCS#11 token (SoftHSM)', () => {
  let hsm: SoftHsmToken | undefined;
  let certmint: CertmintProcess | undefined;
  let responder: Http01Responder | undefined;

  afterEach(async () => {
    await responder?.stop();
    await certmint?.stop();
    hsm?.remove();
  });

  it('serve starts and issues with the root object deleted from the token, serves the root CRL signed before; rotation names the object; with it back crl generate --root signs the next', { timeout: 120_000 }, async () => {
    hsm = makeSoftHsmToken();
    let server = (certmint = await startCertmint({ config: { ca: { ...pkcs11Config(hsm), offlineRoot: true } }, env: hsm.env, secrets: [hsm.pin, hsm.soPin] }));
    expect(privateKeyObjects(hsm)).toMatch(/label:\s+certmint-root/);
    const first = await server.cli(['crl', 'generate', '--root']);
    expect(first.code, first.stderr).toBe(0);
    const number = (stdout: string) => BigInt(/published CRL number (\d+) of the root/.exec(stdout)?.[1] ?? 'x');
    const crlNumberServed = async () => BigInt(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(openssl(['crl', '-in', await writeDer(), '-inform', 'DER', '-noout', '-text']).out)?.[1] ?? 'x');
    const writeDer = async () => {
      const file = path.join(server.tempDir, 'root.crl');
      await writeFile(file, await fetchDer(server, '/crl/root'));
      return file;
    };
    // The operator keeps a copy of the token (the vendor's backup) and deletes the root key from the serving one.
    const backup = mkdtempSync(path.join(tmpdir(), 'certmint-token-backup-'));
    try {
      cpSync(hsm.tokenDir, backup, { recursive: true });
      server = certmint = await server.restart(async () => {
        hsm!.pkcs11Tool(['--token-label', hsm!.label, '--delete-object', '--type', 'privkey', '--label', 'certmint-root']);
      });
      expect(privateKeyObjects(hsm)).not.toMatch(/certmint-root/);
      expect(await crlNumberServed()).toBe(number(first.stdout));
      const wire = new AcmeWire(server.baseUrl, server.rootPem);
      const { account } = await wire.newAccount();
      responder = await startHttp01Responder('127.0.0.1', server.http01Port);
      await issue(wire, account!, responder, ['offline-root.hsm.test']);
      const rotate = await server.cli(['ca', 'rotate-intermediate']);
      expect(rotate.code).not.toBe(0);
      expect(rotate.stderr).toContain('cannot rotate the intermediate: it needs the private key of the root CA');
      expect(rotate.stderr).toContain('Bring back the root key object on the token (ca.pkcs11.rootKey)');
      expect(rotate.stderr).toContain(ROOT_URI);

      let next = 0n;
      server = certmint = await server.restart(async () => {
        rmSync(hsm!.tokenDir, { recursive: true, force: true });
        cpSync(backup, hsm!.tokenDir, { recursive: true });
        const r = await server.cli(['crl', 'generate', '--root']);
        expect(r.code, r.stderr).toBe(0);
        next = number(r.stdout);
      });
      expect(next).toBeGreaterThan(number(first.stdout));
      expect(await crlNumberServed()).toBe(next);
      const verified = spawnSync('openssl', ['crl', '-in', await writeDer(), '-inform', 'DER', '-CAfile', server.rootFile, '-noout'], { encoding: 'utf8' });
      expect(verified.status, verified.stderr).toBe(0);
      expect(verified.stderr).toMatch(/verify OK/);
    } finally {
      rmSync(backup, { recursive: true, force: true });
    }
  });
});
