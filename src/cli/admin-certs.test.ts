// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';

// `certmint admin cert …` (the built binary) on the data dir of a live app: keys and client
// certificates from the admin issuer, which is created on first use and is no part of the ACME CA.
let t: TestAcmeApp;
let out: string;
const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: t.dir, USER: 'root' });
const adminDir = () => path.join(t.dir, 'ca', 'admin');

beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp();
  out = path.join(t.dir, 'out');
  mkdirSync(out);
});
afterAll(async () => t?.close());

async function ledgerState() {
  return { certs: await t.ledger.adminCertificates.listAdminCertificates(), audit: await t.ledger.countAudit({ limit: 1 }) };
}

const pem = (file: string) => new x509.X509Certificate(readFileSync(file, 'utf8'));

describe('certmint admin cert', () => {
  it('refuses a bad name, role, duration or --out in one line, exit 1, and writes nothing (not even the issuer)', async () => {
    const before = await ledgerState();
    const cases: [string[], RegExp][] = [
      [['--name', 'carol', '--role', 'admin', '--out', out], /^certmint: role "admin" is not one of viewer, operator\n$/],
      [['--name', 'has space', '--role', 'viewer', '--out', out], /^certmint: admin certificate name "has space" must be/],
      [['--name', '-x', '--role', 'viewer', '--out', out], /^certmint: admin certificate name "-x" must be/],
      [['--name', 'carol', '--role', 'viewer', '--expires', 'soon', '--out', out], /^certmint: --expires: invalid duration "soon"/],
      [['--name', 'carol', '--role', 'viewer', '--expires', '0d', '--out', out], /^certmint: --expires: "0d" is no time at all/],
      [['--name', 'carol', '--role', 'viewer', '--out', path.join(out, 'missing')], /^certmint: --out .*missing is not a directory\n$/],
      [['--name', 'carol', '--role', 'viewer', '--expires', '20000d', '--out', out], /^certmint: an admin certificate cannot outlive the admin issuer/],
    ];
    for (const [args, message] of cases) {
      const r = await certmint(['admin', 'cert', 'create', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
      expect(existsSync(adminDir()), args.join(' ')).toBe(false);
    }
    expect(readdirSync(out)).toEqual([]);
    expect(await ledgerState()).toEqual(before);
  });

  it('create writes a 0600 key, a clientAuth-only certificate from the admin issuer and the issuer; the ledger records it, audited', async () => {
    const r = await certmint(['admin', 'cert', 'create', '--name', 'alice', '--role', 'operator', '--expires', '30d', '--out', out, '--json']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const o = JSON.parse(r.stdout);
    expect(o).toEqual({
      name: 'alice', role: 'operator', serial: expect.stringMatching(/^01[0-9a-f]{32}$/), notAfter: expect.any(String),
      key: path.join(out, 'alice.key'), cert: path.join(out, 'alice.crt'), issuer: path.join(out, 'admin-ca.crt'),
    });
    expect(statSync(o.key).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(adminDir(), 'admin-ca.key.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(o.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

    const cert = pem(o.cert);
    const issuer = pem(o.issuer);
    expect(cert.serialNumber.toLowerCase()).toBe(o.serial);
    expect(cert.subject).toBe('CN=alice');
    expect(await cert.verify({ publicKey: issuer, signatureOnly: true })).toBe(true);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(cert.notAfter.getTime() - t.clock.now().getTime()).toBeGreaterThan(29 * 86_400_000);
    expect(readFileSync(o.issuer, 'utf8')).toBe(readFileSync(path.join(adminDir(), 'admin-ca.pem'), 'utf8'));

    // Not the ACME hierarchy: a different key than every root and intermediate, and not in the trust bundle.
    const acme = [t.ca.rootCertificate, t.ca.intermediateCertificate].filter(Boolean) as x509.X509Certificate[];
    expect(acme.length).toBeGreaterThan(0);
    for (const c of acme) expect(Buffer.from(c.publicKey.rawData).equals(Buffer.from(issuer.publicKey.rawData))).toBe(false);
    const roots = await t.app.inject({ method: 'GET', url: '/roots.pem' });
    expect(roots.body).not.toContain(issuer.toString('base64').slice(0, 64));

    const [stored] = await t.ledger.adminCertificates.listAdminCertificates();
    expect(stored).toMatchObject({ serial: o.serial, name: 'alice', role: 'operator', revokedAt: undefined });
    expect((await t.ledger.auditTrail('admin-cert:alice')).map((a) => [a.actor, a.action, a.detail?.serial])).toEqual([['operator:root', 'admin-cert-create', o.serial]]);

    // A second one reuses the issuer; a name already held, or files already there, are refused with nothing written.
    const bob = await certmint(['admin', 'cert', 'create', '--name', 'bob', '--role', 'viewer', '--out', out]);
    expect(bob.code, bob.stderr).toBe(0);
    expect(bob.stdout).not.toMatch(/created the admin issuer/);
    expect(pem(path.join(out, 'bob.crt')).issuer).toBe(issuer.subject);
    const before = await ledgerState();
    const taken = await certmint(['admin', 'cert', 'create', '--name', 'alice', '--role', 'viewer', '--out', t.dir]);
    expect([taken.code, taken.stderr]).toEqual([1, 'certmint: there is already an admin certificate named "alice"; revoke it first or choose another name\n']);
    const clobber = await certmint(['admin', 'cert', 'create', '--name', 'carol', '--role', 'viewer', '--out', out]);
    expect(clobber.code).toBe(0);
    const again = await certmint(['admin', 'cert', 'revoke', 'carol']);
    expect(again.code).toBe(0);
    const mid = await ledgerState();
    const exists = await certmint(['admin', 'cert', 'create', '--name', 'carol', '--role', 'viewer', '--out', out]);
    expect([exists.code, exists.stderr]).toEqual([1, `certmint: ${path.join(out, 'carol.key')} exists; certmint never overwrites a key or certificate (move it away or choose another --out)\n`]);
    expect(await ledgerState()).toEqual(mid);
    expect(before.certs).toHaveLength(2);
  });

  it('list shows names, roles, serials and states; revoke NAME is audited and one line, exit 1 when there is none', async () => {
    const r = await certmint(['admin', 'cert', 'revoke', 'bob']);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'revoked the admin certificate of bob\n', '']);
    expect((await t.ledger.auditTrail('admin-cert:bob')).map((a) => [a.actor, a.action])).toEqual([
      ['operator:root', 'admin-cert-create'],
      ['operator:root', 'admin-cert-revoke'],
    ]);
    const before = await ledgerState();
    for (const name of ['bob', 'nobody']) {
      const again = await certmint(['admin', 'cert', 'revoke', name]);
      expect([again.code, again.stderr]).toEqual([1, `certmint: there is no unrevoked admin certificate named "${name}"\n`]);
    }
    expect(await ledgerState()).toEqual(before);
    const json = JSON.parse((await certmint(['admin', 'cert', 'list', '--json'])).stdout);
    expect(json.map((x: Record<string, unknown>) => [x.name, x.role, x.state])).toEqual([
      ['alice', 'operator', 'active'],
      ['bob', 'viewer', 'revoked'],
      ['carol', 'viewer', 'revoked'],
    ]);
    for (const x of json) expect(Object.keys(x).sort()).toEqual(['createdAt', 'name', 'notAfter', 'revokedAt', 'role', 'serial', 'state']);
    const table = (await certmint(['admin', 'cert', 'list'])).stdout.trim().split('\n');
    expect(table[0]).toMatch(/^NAME\s+ROLE\s+STATE\s+SERIAL\s+CREATED\s+EXPIRES$/);
    expect(table.slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([['alice', 'operator', 'active'], ['bob', 'viewer', 'revoked'], ['carol', 'viewer', 'revoked']]);
  });
});
