import { expect, it } from 'vitest';
import { describeLedger } from '../../../test/support/ledger-backends.js';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import type { NewCertificate } from '../records.js';

// Each distinct chain is stored once (migrations/0028_certificate_chains.sql): certificates under
// one intermediate share a row, a rotated intermediate adds one, and every certificate reads back
// the exact text it was issued with.
const now = new Date('2026-03-01T00:00:00Z');

/** A PEM block of `bytes` DER-sized bytes, 64 columns, as ca/ writes one. */
function pemBlock(seed: number, bytes: number): string {
  const body = Buffer.from(Array.from({ length: bytes }, (_, i) => (i * 31 + seed * 7) & 0xff)).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${body.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
const GENERATION_1 = pemBlock(1, 1100);
// Two intermediates (a subordinate under a cross-signed one): past the ~2,700 bytes of a PostgreSQL index entry.
const GENERATION_2 = pemBlock(2, 1100) + pemBlock(3, 1300);

function issued(serial: string, chainPem: string, issuerGeneration = 1): NewCertificate {
  return { ...certificateRecord(serial, [`${serial}.example`], 30, now), chainPem, issuerGeneration };
}

describeLedger('certificate chains in the ledger', (backend) => {
  it('stores one chain for the certificates under one intermediate, a second for a rotated one, and reads each back byte for byte', async () => {
    let ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.insertCertificate(issued('01', GENERATION_1));
    await ledger.insertCertificate(issued('02', GENERATION_1));
    expect(await backend.rawCount('certificate_chains')).toBe(1);
    await ledger.insertCertificate(issued('03', GENERATION_2, 2));
    await ledger.insertCertificate(issued('04', GENERATION_1));
    expect(await backend.rawCount('certificate_chains')).toBe(2);
    expect(GENERATION_2.length).toBeGreaterThan(2700);

    ledger = await backend.reopen();
    const expected = { '01': GENERATION_1, '02': GENERATION_1, '03': GENERATION_2, '04': GENERATION_1 };
    for (const [serial, chainPem] of Object.entries(expected)) {
      expect((await ledger.getCertificate(serial))?.chainPem, serial).toBe(chainPem);
    }
  });

  it('keeps no chain of a certificate the ledger refused, and stores it with the next certificate that has it', async () => {
    const ledger = await backend.open();
    await ledger.createAccount(accountRecord('a1', 't1', now));
    await ledger.insertCertificate(issued('01', GENERATION_1));
    // Generation 0 breaks a CHECK after the chain's row went in: the transaction takes it back.
    await expect(ledger.insertCertificate(issued('02', GENERATION_2, 0))).rejects.toThrow(backend.refusal.check);
    expect(await backend.rawCount('certificate_chains')).toBe(1);
    expect(await ledger.getCertificate('02')).toBeUndefined();
    await ledger.insertCertificate(issued('03', 'a chain issued after a refusal\n'));
    await ledger.insertCertificate(issued('04', GENERATION_2, 2));
    expect(await backend.rawCount('certificate_chains')).toBe(3);
    expect((await ledger.getCertificate('03'))?.chainPem).toBe('a chain issued after a refusal\n');
    expect((await ledger.getCertificate('04'))?.chainPem).toBe(GENERATION_2);
  });
});
