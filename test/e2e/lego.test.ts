import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { CLIENT_AUTH, SERVER_AUTH, dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { requireOrSkip } from '../support/clients.js';

const available = requireOrSkip('lego', 'apt-get install lego');

describe.skipIf(!available)('lego against certmint', () => {
  let certmint: CertmintProcess;
  let legoDir: string;

  beforeAll(async () => {
    certmint = await startCertmint();
    legoDir = path.join(certmint.tempDir, 'lego');
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  /** http-01 on certmint's http-01 port unless `challenge` names other solver flags; resolves with lego's log (stderr). */
  function lego(
    names: readonly string[],
    extraArgs: readonly string[] = [],
    command: readonly string[] = ['run'],
    challenge: readonly string[] = ['--http', '--http.port', `127.0.0.1:${certmint.http01Port}`],
  ): Promise<string> {
    const args = [
      '--server', certmint.directoryUrl,
      '--email', 'ops@example.internal',
      '--accept-tos',
      ...names.flatMap((name) => ['--domains', name]),
      ...challenge,
      '--path', legoDir,
      ...extraArgs,
      ...command,
    ];
    const started = performance.now();
    return new Promise((resolve, reject) => {
      execFile(
        'lego',
        args,
        { env: { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile }, timeout: 90_000 },
        (err, stdout, stderr) => {
          const ms = Math.round(performance.now() - started);
          if (err) {
            reject(new Error(`lego ${args.join(' ')} failed after ${ms} ms: ${err.message}\n${stdout}\n${stderr}\n--- certmint ---\n${certmint.output()}`));
            return;
          }
          console.log(`lego ${[...challenge.slice(0, 1), ...extraArgs].join(' ')} for ${names.join(', ')}: ${ms} ms`);
          resolve(stderr);
        },
      );
    });
  }

  /** lego's `<name>.crt` (leaf + issuer, bundled) and `<name>.issuer.crt`, checked the way a user would. */
  async function expectIssuedByCertmint(names: readonly string[]): Promise<X509Certificate> {
    const bundleFile = path.join(legoDir, 'certificates', `${names[0]}.crt`);
    const issuerFile = path.join(legoDir, 'certificates', `${names[0]}.issuer.crt`);
    await expect(opensslVerify(certmint.rootFile, bundleFile, issuerFile)).resolves.toMatch(/: OK$/m);
    const blocks = splitPem(await readFile(bundleFile, 'utf8'));
    const issuer = await readFile(issuerFile, 'utf8');
    expect(blocks).toHaveLength(2);

    const leaf = new X509Certificate(blocks[0]!);
    const intermediate = new X509Certificate(issuer);
    expect(new X509Certificate(blocks[1]!).raw.equals(intermediate.raw)).toBe(true);
    expect(intermediate.checkIssued(new X509Certificate(certmint.rootPem))).toBe(true);
    expect(dnsNames(leaf)).toEqual([...names].sort());
    expect(leaf.keyUsage).toEqual(expect.arrayContaining([SERVER_AUTH, CLIENT_AUTH]));
    return leaf;
  }

  it('gets an ECDSA P-256 certificate for two names with http-01 (lego default key type)', { timeout: 120_000 }, async () => {
    const names = ['web.lego.test', 'api.lego.test'];
    await lego(names);
    const leaf = await expectIssuedByCertmint(names);
    expect(leaf.publicKey.asymmetricKeyType).toBe('ec');
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('gets an RSA 2048 certificate with --key-type rsa2048 on the same account', { timeout: 120_000 }, async () => {
    const names = ['rsa.lego.test', 'www.rsa.lego.test'];
    await lego(names, ['--key-type', 'rsa2048']);
    const leaf = await expectIssuedByCertmint(names);
    expect(leaf.publicKey.asymmetricKeyType).toBe('rsa');
    expect(leaf.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('revokes it with lego revoke --reason 4 (superseded), recorded in the ledger', { timeout: 120_000 }, async () => {
    const names = ['rsa.lego.test', 'www.rsa.lego.test'];
    const leaf = new X509Certificate(splitPem(await readFile(path.join(legoDir, 'certificates', `${names[0]}.crt`), 'utf8'))[0]!);
    // lego revokes per --domains entry and files the certificate under the first name only.
    await lego([names[0]!], [], ['revoke', '--reason', '4']);
    const shown = await certmint.showCertificate(leaf.serialNumber.toLowerCase());
    expect(shown).toMatchObject({ status: 'revoked', revocationReason: 'superseded' });
    expect(shown.audit).toMatchObject([{ action: 'issue' }, { action: 'revoke', actor: expect.stringMatching(/^account:/), reason: 4 }]);
  });

  it('gets a certificate with tls-alpn-01 only (--tls, RFC 8737)', { timeout: 120_000 }, async () => {
    const names = ['alpn.lego.test'];
    // With --tls as its only solver lego fails unless certmint offers tls-alpn-01 and validates it.
    const log = await lego(names, [], ['run'], ['--tls', '--tls.port', `127.0.0.1:${certmint.tlsAlpn01Port}`]);
    expect(log).toContain('[alpn.lego.test] acme: use tls-alpn-01 solver');
    await expectIssuedByCertmint(names);
  });

  it('gets a wildcard and its base name with dns-01 (--dns exec setting TXT records in the test DNS server)', { timeout: 120_000 }, async () => {
    // lego's exec provider runs `hook present|cleanup <fqdn> <value>`; this hook sets the record
    // through pebble-challtestsrv's management API (the DNS server certmint validates against).
    const hook = path.join(certmint.tempDir, 'dns-hook.mjs');
    await writeFile(
      hook,
      `#!${process.execPath}
const [action, fqdn, value] = process.argv.slice(2);
const path = action === 'present' ? '/set-txt' : '/clear-txt';
const res = await fetch(${JSON.stringify(certmint.dns.managementUrl)} + path, {
  method: 'POST', body: JSON.stringify(action === 'present' ? { host: fqdn, value } : { host: fqdn }),
});
if (!res.ok) { console.error('challtestsrv answered', res.status); process.exit(1); }
`,
      { mode: 0o755 },
    );
    const names = ['*.wild.lego.test', 'wild.lego.test'];
    // EXEC_SEQUENCE_INTERVAL: the exec provider solves one name at a time and waits 60 s between
    // them by default (its "sequential" mode); nothing on the server side needs that pause.
    await new Promise<void>((resolve, reject) => {
      execFile(
        'lego',
        [
          '--server', certmint.directoryUrl, '--email', 'ops@example.internal', '--accept-tos',
          ...names.flatMap((n) => ['--domains', n]),
          '--dns', 'exec', '--dns.resolvers', certmint.dns.dnsAddress, '--dns.disable-cp',
          '--path', path.join(certmint.tempDir, 'lego-dns'), 'run',
        ],
        { env: { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile, EXEC_PATH: hook, EXEC_POLLING_INTERVAL: '1', EXEC_PROPAGATION_TIMEOUT: '30', EXEC_SEQUENCE_INTERVAL: '1' }, timeout: 90_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`lego --dns exec failed: ${err.message}\n${stdout}\n${stderr}\n--- certmint ---\n${certmint.output()}`)) : resolve()),
      );
    });
    const bundleFile = path.join(certmint.tempDir, 'lego-dns', 'certificates', '_.wild.lego.test.crt');
    const issuerFile = path.join(certmint.tempDir, 'lego-dns', 'certificates', '_.wild.lego.test.issuer.crt');
    await expect(opensslVerify(certmint.rootFile, bundleFile, issuerFile)).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(splitPem(await readFile(bundleFile, 'utf8'))[0]!);
    expect(leaf.subjectAltName).toBe('DNS:*.wild.lego.test, DNS:wild.lego.test');
  });

  it('renews with lego renew after certmint ca rotate-intermediate and a restart: the new certificate chains to the new intermediate', { timeout: 120_000 }, async () => {
    const names = ['rotate.lego.test'];
    await lego(names);
    const before = await expectIssuedByCertmint(names);
    const issuerFile = path.join(legoDir, 'certificates', `${names[0]}.issuer.crt`);
    const oldIssuer = new X509Certificate(await readFile(issuerFile, 'utf8'));

    let rotated = { code: -1, stdout: '', stderr: '' };
    certmint = await certmint.restart(async () => {
      rotated = await certmint.cli(['ca', 'rotate-intermediate']);
    });
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toContain('created intermediate generation 2');

    // --days beyond the 45-day lifetime: renew now.
    await lego(names, [], ['renew', '--days', '3650', '--no-random-sleep']);
    const after = await expectIssuedByCertmint(names);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    const newIssuer = new X509Certificate(await readFile(issuerFile, 'utf8'));
    const generation2 = new X509Certificate(await readFile(path.join(certmint.dataDir, 'ca', 'intermediate-2.pem'), 'utf8'));
    expect(newIssuer.raw.equals(generation2.raw)).toBe(true);
    expect(newIssuer.raw.equals(oldIssuer.raw)).toBe(false);
    expect(after.infoAccess).toContain(`CA Issuers - URI:${certmint.baseUrl}/intermediate/2.der`);
    expect(await certmint.showCertificate(after.serialNumber.toLowerCase())).toMatchObject({ status: 'valid', issuerGeneration: 2 });

    // The certificate from before the rotation: still valid, and its stored chain still verifies.
    expect(await certmint.showCertificate(before.serialNumber.toLowerCase())).toMatchObject({ status: 'valid', issuerGeneration: 1 });
    const stored = await certmint.cli(['certs', 'show', before.serialNumber.toLowerCase(), '--pem']);
    const storedFile = path.join(certmint.tempDir, 'before-rotation.pem');
    await writeFile(storedFile, stored.stdout);
    await expect(opensslVerify(certmint.rootFile, storedFile, storedFile)).resolves.toMatch(/: OK$/m);
    expect(new X509Certificate(splitPem(stored.stdout)[1]!).raw.equals(oldIssuer.raw)).toBe(true);
  });

  it('lego renew links the renewal to the certificate it replaced; only an unrenewed certificate becomes renewal-overdue', { timeout: 180_000 }, async () => {
    const leafOf = async (name: string) =>
      new X509Certificate(splitPem(await readFile(path.join(legoDir, 'certificates', `${name}.crt`), 'utf8'))[0]!).serialNumber.toLowerCase();
    const overdue = async (...args: string[]) => {
      const r = await certmint.cli(['certs', 'list', '--json', '--identifier', '*.lineage.lego.test', ...args]);
      expect(r.stderr).toBe('');
      return (JSON.parse(r.stdout) as { serial: string }[]).map((c) => c.serial);
    };
    await lego(['renewed.lineage.lego.test']);
    await lego(['stuck.lineage.lego.test']);
    const first = await leafOf('renewed.lineage.lego.test');
    const stuck = await leafOf('stuck.lineage.lego.test');
    // This lego does not send ARI "replaces": the link is the same account and the same names.
    await lego(['renewed.lineage.lego.test'], [], ['renew', '--days', '3650', '--no-random-sleep']);
    const renewal = await leafOf('renewed.lineage.lego.test');
    expect(renewal).not.toBe(first);
    expect(await certmint.showCertificate(renewal)).toMatchObject({ replaces: first, replacedBy: null });
    expect(await certmint.showCertificate(first)).toMatchObject({ replaces: null, replacedBy: renewal });
    expect(await certmint.showCertificate(stuck)).toMatchObject({ replaces: null, replacedBy: null });
    expect(await overdue('--overdue')).toEqual([]);

    // End the ARI windows of the first certificate and the stuck one now: renew-early moves the
    // windows, and the overdue time with them (fake-clock-lineage.test.ts moves the clock instead).
    for (const serial of [first, stuck]) expect((await certmint.cli(['certs', 'renew-early', serial])).code).toBe(0);
    expect(await overdue('--overdue')).toEqual([stuck]); // the first one is superseded: never at risk
    expect(await overdue('--unrenewed-expiring-within', '60d')).toEqual([stuck]);
    expect(await overdue('--unrenewed-expiring-within', '1d')).toEqual([]);

    // Renewing the stuck one clears it.
    await lego(['stuck.lineage.lego.test'], [], ['renew', '--days', '3650', '--no-random-sleep']);
    expect(await overdue('--overdue')).toEqual([]);
    expect(await certmint.showCertificate(stuck)).toMatchObject({ replacedBy: await leafOf('stuck.lineage.lego.test') });
  });
});
