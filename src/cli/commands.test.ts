import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { issueCertificate } from '../../test/support/issue-flow.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { auditAfterCreation } from '../../test/support/ledger-records.js';

const DAY = 86_400_000;

// The admin CLI (the built binary) on a real data dir while the app holds the same ledger open,
// as an operator runs it next to a live server.
let t: TestAcmeApp;
let client: InjectAcmeClient;
const serials: Record<string, string> = {};

const certmint = (args: string[], dataDir = t.dir) => runCli(args, { CERTMINT_DATA_DIR: dataDir });

beforeAll(async () => {
  requireBuiltCli();
  t = await startTestAcmeApp();
  client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
  await client.register();
  const now = t.clock.now().getTime();
  serials.soon = (await issueCertificate(t, client, ['web.shop.svc.cluster.local'], { notAfter: new Date(now + 3 * DAY) })).serial;
  serials.later = (await issueCertificate(t, client, ['api.shop.svc.cluster.local'])).serial;
  serials.other = (await issueCertificate(t, client, ['db.internal'], { notAfter: new Date(now + 20 * DAY) })).serial;
  // One that expired: issued with the clock 60 days back.
  t.clock.set(new Date(now - 60 * DAY));
  serials.old = (await issueCertificate(t, client, ['old.internal'], { notAfter: new Date(now - 50 * DAY) })).serial;
  t.clock.set(new Date(now));
});
afterAll(async () => t?.close());

describe('certmint certs', () => {
  it('lists the inventory as a table, soonest expiry first', async () => {
    const r = await certmint(['certs', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SERIAL\s+NOT AFTER\s+STATUS\s+IDENTIFIERS$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([serials.old, serials.soon, serials.other, serials.later]);
    expect(lines[1]).toMatch(/expired\s+old\.internal$/);
  });

  it('filters by expiry window, expired, identifier suffix and account, as JSON', async () => {
    const json = async (...args: string[]) =>
      (JSON.parse((await certmint(['certs', 'list', '--json', ...args])).stdout) as { serial: string }[]).map((c) => c.serial);
    expect(await json('--expiring-within', '7d')).toEqual([serials.soon]);
    expect(await json('--expired')).toEqual([serials.old]);
    expect(await json('--identifier', '*.shop.svc.cluster.local')).toEqual([serials.soon, serials.later]);
    expect(await json('--identifier', 'db.internal')).toEqual([serials.other]);
    expect(await json('--account', client.accountUrl!.split('/').pop()!, '--limit', '2')).toEqual([serials.old, serials.soon]);
    expect(await json('--account', 'nobody')).toEqual([]);
  });

  it('shows one certificate, and its PEM chain', async () => {
    const r = await certmint(['certs', 'show', serials.other!]);
    expect(r.stdout).toMatch(/status\s+valid/);
    expect(r.stdout).toMatch(/identifiers\s+\["db\.internal"\]/);
    const pem = await certmint(['certs', 'show', serials.other!, '--pem']);
    expect(pem.stdout.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  });

  it('refuses bad arguments with one clear line', async () => {
    for (const [args, message] of [
      [['certs', 'list', '--expiring-within', 'soon'], /--expiring-within: invalid duration "soon"/],
      [['certs', 'list', '--limit', '0'], /--limit must be a positive whole number/],
      [['certs', 'show', 'xyz'], /"xyz" is not a certificate serial/],
      [['certs', 'show', 'abcdef'], /no certificate with serial abcdef/],
    ] as const) {
      const r = await certmint([...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('certmint revoke', () => {
  it('revokes through the same use case as ACME, audited as the operator; a second time is refused', async () => {
    const r = await certmint(['revoke', serials.later!, '--reason', 'superseded']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^revoked ${serials.later} \\(superseded\\)\npublished CRL number \\d+ of the intermediate`));
    // The CRL files a web server or sidecar serves already list it.
    const text = execFileSync('openssl', ['crl', '-in', path.join(t.dir, 'crl', 'intermediate.crl.pem'), '-noout', '-text']).toString();
    expect(text).toContain(serials.later!.toUpperCase());
    expect(text).toContain('Superseded');
    const stored = await t.ledger.getCertificate(serials.later!);
    expect(stored).toMatchObject({ status: 'revoked', revocationReason: 4 });
    const audit = await auditAfterCreation(t.ledger, serials.later!);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toMatch(/^operator:/);
    const again = await certmint(['revoke', serials.later!, '--reason', 'keyCompromise']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already revoked/);
    expect(await auditAfterCreation(t.ledger, serials.later!)).toHaveLength(1);
    const listed = await certmint(['certs', 'list', '--revoked', '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ serial: serials.later, revocationReason: 'superseded' }]);
  });

  it('changes nothing on a bad reason, a malformed or unknown serial', async () => {
    for (const [args, message] of [
      [['revoke', serials.other!, '--reason', 'cACompromise'], /--reason "cACompromise" is not accepted/],
      [['revoke', serials.other!, '--reason', '2'], /--reason "2" is not accepted/],
      [['revoke', 'not-hex', '--reason', 'superseded'], /not a certificate serial/],
      [['revoke', '0badbad0', '--reason', 'superseded'], /no certificate with serial 0badbad0/],
    ] as const) {
      const r = await certmint([...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    expect((await t.ledger.getCertificate(serials.other!))?.status).toBe('valid');
    expect(await auditAfterCreation(t.ledger, serials.other!)).toEqual([]);
  });

  it('refuses a ledger from a newer certmint and changes nothing in it', async () => {
    const { mkdirSync } = await import('node:fs');
    const Database = (await import('better-sqlite3')).default;
    const future = path.join(t.dir, 'future');
    mkdirSync(future);
    const db = new Database(path.join(future, 'ledger.sqlite3'));
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    db.prepare('INSERT INTO schema_migrations VALUES (99, ?, 0)').run('0099_future');
    db.close();
    for (const args of [['certs', 'list'], ['revoke', serials.other!, '--reason', 'superseded'], ['crl', 'show']]) {
      const r = await certmint(args, future);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/schema version 99, newer than this certmint knows/);
    }
    const after = new Database(path.join(future, 'ledger.sqlite3'), { readonly: true });
    // Still only the schema_migrations table: no migration ran against it.
    expect(after.prepare('SELECT name FROM sqlite_master').all()).toEqual([{ name: 'schema_migrations' }]);
    after.close();
  });

  it('refuses a data dir without a ledger and creates nothing there', async () => {
    const missing = path.join(t.dir, 'no-such-data-dir');
    const r = await certmint(['certs', 'list'], missing);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no ledger at .*no-such-data-dir\/ledger\.sqlite3/);
    expect(existsSync(missing)).toBe(false);
    const rv = await certmint(['revoke', serials.other!, '--reason', 'superseded'], missing);
    expect(rv.code).toBe(1);
    expect(existsSync(missing)).toBe(false);
  });
});

describe('certmint crl', () => {
  it('generate signs the next number; show describes what is published', async () => {
    const before = await t.ledger.crlState('intermediate', new Date());
    const gen = await certmint(['crl', 'generate']);
    expect(gen.code).toBe(0);
    expect(gen.stdout).toContain(`published CRL number ${before.crlNumber + 1n} of the intermediate`);
    const show = await certmint(['crl', 'show']);
    expect(show.stdout).toMatch(new RegExp(`crl number\\s+${before.crlNumber + 1n}\n`));
    expect(show.stdout).toMatch(/issuer\s+O=certmint test, CN=certmint test Intermediate CA/);
    const pem = await certmint(['crl', 'show', '--pem']);
    expect(pem.stdout).toMatch(/^-----BEGIN X509 CRL-----\n/);
    const root = await certmint(['crl', 'generate', '--root']);
    expect(root.stdout).toContain('of the root');
  });
  it('--partition names one CRL partition of a generation (crl.partitions), and refuses what is none', async () => {
    const gen = await certmint(['crl', 'generate', '--partition', '3']);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toContain('published CRL number 1 of the intermediate-1-partition-3');
    const show = await certmint(['crl', 'show', '--generation', '1', '--partition', '3']);
    expect(show.stdout).toMatch(/crl number\s+1\n/);
    expect(show.stdout).toMatch(/entries\s+0\n/);
    for (const [args, message] of [
      [['--partition', '256'], /--partition must be a CRL partition \(0, 1, … 255; crl.partitions\), not "256"/],
      [['--partition', 'x'], /not "x"/],
      [['--root', '--partition', '1'], /--root and --generation\/--partition name different CRLs/],
    ] as const) {
      const r = await certmint(['crl', 'show', ...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
    }
  });
});
