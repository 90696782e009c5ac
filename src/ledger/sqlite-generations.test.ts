import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serialsOf } from '../core/revoked-columns.js';
import { leafCrlIssuer, generationOfCrlIssuer } from './ledger.js';
import { migrateSqlite, readMigrations } from './migrate.js';
import type { NewCertificate } from './records.js';
import { SqliteLedger } from './sqlite-ledger.js';
import { accountRecord } from '../../test/support/ledger-records.js';

// Intermediate generations (certmint ca rotate-intermediate) as the ledger keeps them.
let dir: string;
let file: string;
let ledger: SqliteLedger | undefined;
const now = new Date('2026-01-01T00:00:00Z');
const SECOND = 1000;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-generations-'));
  file = path.join(dir, 'ledger.sqlite3');
});
afterEach(async () => {
  await ledger?.close();
  ledger = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function certificate(serial: string, issuerGeneration: number | undefined, notAfterMs: number): NewCertificate {
  return {
    serial, accountId: 'a1', orderId: undefined, der: new Uint8Array([1]), chainPem: `chain of ${issuerGeneration ?? 1}`,
    identifiers: [{ type: 'dns', value: `${serial}.example` }], commonName: undefined, keyHash: `k-${serial}`,
    notBefore: now, notAfter: new Date(now.getTime() + notAfterMs), createdAt: now,
    ...(issuerGeneration !== undefined ? { issuerGeneration } : {}),
  };
}

const revoke = (l: SqliteLedger, serial: string) =>
  l.revokeCertificate({ serial, reason: 4, revokedAt: now, blockKey: false, actor: 'test' });

describe('issuer generations in the ledger', () => {
  it('migration 6 gives every certificate issued before it generation 1, and its CRL stays "intermediate"', async () => {
    // A ledger as certmint 0005 left it, with one revoked certificate.
    const db = new Database(file);
    db.function('certmint_reverse_labels', { deterministic: true }, (v: unknown) => v as string);
    migrateSqlite(db, readMigrations().slice(0, 5), () => now.getTime());
    db.prepare(`INSERT INTO accounts (id, key_thumbprint, jwk, status, created_at) VALUES ('a1', 't1', '{}', 'valid', 0)`).run();
    db.prepare(`INSERT INTO certificates (serial, account_id, der, chain_pem, identifiers, key_hash, not_before, not_after, status,
      revoked_at, revocation_reason, created_at) VALUES ('0a', 'a1', x'01', 'old chain', '[]', 'k', 0, ?, 'revoked', ?, 1, 0)`)
      .run(now.getTime() + 60 * SECOND, now.getTime());
    db.close();

    ledger = new SqliteLedger({ file });
    expect((await ledger.getCertificate('0a'))?.issuerGeneration).toBe(1);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 1))).toEqual(['0a']);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 2))).toEqual([]);
    expect(await ledger.lastNotAfter(1)).toEqual(new Date(now.getTime() + 60 * SECOND));
    expect(await ledger.lastNotAfter(2)).toBeUndefined();
    const check = new Database(file, { readonly: true });
    expect(() => check.prepare('SELECT issuer_generation FROM certificates').all()).not.toThrow();
    check.close();
  });

  it('refuses a generation below 1', async () => {
    ledger = new SqliteLedger({ file });
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await expect(ledger.insertCertificate(certificate('0a', 0, SECOND))).rejects.toThrow(/CHECK constraint/);
  });

  it('lists each generation its own revoked certificates, marks only that generation stale, and counts live ones', async () => {
    ledger = new SqliteLedger({ file });
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.insertCertificate(certificate('01', undefined, 10 * SECOND)); // default: generation 1
    await ledger.insertCertificate(certificate('02', 1, 20 * SECOND));
    await ledger.insertCertificate(certificate('03', 2, 30 * SECOND));
    await ledger.insertCertificate(certificate('04', 2, 40 * SECOND));
    expect((await ledger.getCertificate('03'))).toMatchObject({ issuerGeneration: 2, chainPem: 'chain of 2' });
    for (const issuer of ['intermediate', 'intermediate-2'] as const) {
      await ledger.claimCrlNumber(issuer);
      expect((await ledger.crlState(issuer)).dirty).toBe(false);
    }

    expect(await revoke(ledger, '02')).toBe('revoked');
    expect((await ledger.crlState('intermediate')).dirty).toBe(true);
    expect((await ledger.crlState('intermediate-2')).dirty).toBe(false);
    expect(await revoke(ledger, '04')).toBe('revoked');
    expect((await ledger.crlState('intermediate-2')).dirty).toBe(true);

    expect(serialsOf(await ledger.listRevokedUnexpired(now, 1))).toEqual(['02']);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 2))).toEqual(['04']);
    expect(serialsOf(await ledger.listRevokedUnexpired(now, 3))).toEqual([]);
    expect([...(await ledger.liveCertificatesByGeneration(now))]).toEqual([[1, 1], [2, 1]]);
    expect([...(await ledger.liveCertificatesByGeneration(new Date(now.getTime() + 15 * SECOND)))]).toEqual([[2, 1]]);
    expect(await ledger.lastNotAfter(1)).toEqual(new Date(now.getTime() + 20 * SECOND));
    expect(await ledger.lastNotAfter(2)).toEqual(new Date(now.getTime() + 40 * SECOND));
  });

  it('creates the CRL state of a new generation when first needed, with its own numbers', async () => {
    ledger = new SqliteLedger({ file });
    expect(await ledger.crlState('intermediate-3')).toEqual({
      crlNumber: 0n, dirty: true, thisUpdate: undefined, nextUpdate: undefined, der: undefined,
    });
    await ledger.claimCrlNumber('intermediate');
    await ledger.claimCrlNumber('intermediate');
    expect(await ledger.claimCrlNumber('intermediate-3')).toBe(1n);
    const at = new Date('2026-01-02T00:00:00Z');
    await ledger.recordCrl('intermediate-3', { crlNumber: 1n, thisUpdate: at, nextUpdate: at, der: new Uint8Array([3]) });
    expect(await ledger.crlState('intermediate-3')).toMatchObject({ crlNumber: 1n, dirty: false, der: new Uint8Array([3]) });
    expect((await ledger.crlState('intermediate')).crlNumber).toBe(2n);
  });

  it('names the CRL issuer of each generation', () => {
    expect([1, 2, 17].map(leafCrlIssuer)).toEqual(['intermediate', 'intermediate-2', 'intermediate-17']);
    expect((['intermediate', 'intermediate-2', 'root'] as const).map(generationOfCrlIssuer)).toEqual([1, 2, undefined]);
  });
});
