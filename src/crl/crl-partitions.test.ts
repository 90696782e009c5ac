import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import { ManualClock } from '../core/clock.js';
import { partitionCrlIssuer, type CrlIssuer } from '../ledger/ledger.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { CrlPublisher, type CrlPolicy } from './crl-publisher.js';
import { crlPartitionOf } from '../ca/crl/partitions.js';
import { useCaWithLedger } from '../../test/support/ca-with-ledger.js';
import { issueRecordedLeaf } from '../../test/support/recorded-leaf.js';
import { capturedLogger } from '../../test/support/suite-log.js';
import { goSerial, goX509Available, parseCrlsWithGo } from '../../test/support/x509-check.js';

// crl.partitions 4 (issue 27): the publisher keeps every partition's CRL, and a revocation
// rebuilds its own partition's and nothing else.
const HOUR = 3_600_000;
const PARTITIONS = 4;
const policy: CrlPolicy = { validityMs: 24 * HOUR, refreshMs: HOUR, rootValidityMs: 30 * 24 * HOUR, checkIntervalMs: 60_000, partitions: PARTITIONS };
const { log } = capturedLogger('crl-partitions.test');
let dir: string;
let ca: X509CertificateAuthority;
let ledger: SqliteLedger;
const clock = new ManualClock(new Date());

useCaWithLedger(
  { prefix: 'crl-partitions', name: 'crl partitions', clock, ca: { crlUrl: 'http://x/crl', caIssuersUrl: 'http://x/i.der', crlPartitions: PARTITIONS } },
  (made) => ({ dir, ca, ledger } = made),
);

const leaf = (name: string) => issueRecordedLeaf({ ca, ledger, clock, dir }, name, 24 * HOUR);
const partitions: CrlIssuer[] = Array.from({ length: PARTITIONS }, (_, p) => partitionCrlIssuer(1, p));

function verifyWithCrl(leafFile: string, crlPem: string): { ok: boolean; out: string } {
  const r = spawnSync('openssl', ['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', path.join(dir, 'root.pem'), '-untrusted', path.join(dir, 'chain.pem'), leafFile]);
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

describe('CrlPublisher with crl.partitions 4', () => {
  it('builds every partition before its first certificate, then rebuilds only the revoked certificate\'s partition', async () => {
    const p = new CrlPublisher({ ledger, ca, clock, dir: path.join(dir, 'crl'), policy, log });
    await p.check();
    for (const issuer of ['intermediate', ...partitions] as const) expect(p.current(issuer)?.crlNumber).toBe(1n);

    const leaves = [];
    while (new Set(leaves.map((l) => l.crlPartition)).size < 2 || leaves.length < 3) leaves.push(await leaf(`l${leaves.length}.partitions.test`));
    const revoked = leaves[0]!;
    const partition = revoked.crlPartition!;
    const before = new Map([...partitions, 'intermediate' as const].map((i) => [i, p.current(i)!.crlNumber]));

    await ledger.revokeCertificate({ serial: revoked.serial, reason: 1, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    await p.requestRefresh();
    for (const [issuer, number] of before) {
      // One build, of the revoked certificate's partition: the others and the whole CRL keep their number.
      expect([issuer, p.current(issuer)!.crlNumber]).toEqual([issuer, issuer === partitionCrlIssuer(1, partition) ? number + 1n : number]);
    }

    const crlPem = path.join(dir, 'crl', `intermediate-1-partition-${partition}.crl.pem`);
    const refused = verifyWithCrl(revoked.file, crlPem);
    expect(refused.ok).toBe(false);
    expect(refused.out).toContain('certificate revoked');
    for (const other of leaves.slice(1)) {
      const result = verifyWithCrl(other.file, crlPem);
      if (other.crlPartition === partition) expect(result).toMatchObject({ ok: true });
      else expect(result.out).toContain('different CRL scope');
    }

    // The scheduled refresh rebuilds every partition and the whole generation's CRL, which lists it too.
    clock.advance(HOUR);
    await p.check();
    for (const [issuer, number] of before) expect(p.current(issuer)!.crlNumber).toBe(issuer === partitionCrlIssuer(1, partition) ? number + 2n : number + 1n);
    const whole = verifyWithCrl(revoked.file, path.join(dir, 'crl', 'intermediate.crl.pem'));
    expect(whole.out).toContain('certificate revoked');
  });

  // Go relying parties (cert-manager, Kubernetes, Caddy) fetch the leaf's own partition CRL: Go's
  // parser must take the critical Issuing Distribution Point (RFC 5280 §5.2.5) and the signature.
  it.skipIf(!goX509Available)('every partition\'s CRL parses with Go\'s x509.ParseRevocationList, verifies against the intermediate, and lists a revoked serial in its partition only', async () => {
    const p = new CrlPublisher({ ledger, ca, clock, dir: path.join(dir, 'crl-go'), policy, log });
    await p.check();
    const revoked = await leaf('revoked.go.partitions.test');
    await ledger.revokeCertificate({ serial: revoked.serial, reason: 1, revokedAt: clock.now(), blockKey: false, actor: 'test' });
    await p.requestRefresh();

    const files = partitions.map((_, n) => path.join(dir, 'crl-go', `intermediate-1-partition-${n}.crl.pem`));
    const read = parseCrlsWithGo(path.join(dir, 'chain.pem'), files);
    expect(read.map((crl) => crl.idpCritical)).toEqual([true, true, true, true]);
    expect(read.filter((crl) => crl.serials.includes(goSerial(revoked.serial))).map((crl) => crl.file)).toEqual([files[revoked.crlPartition!]]);
    // Whatever else is revoked by now (the test above's leaf) sits in its own partition's CRL too.
    read.forEach((crl, n) => {
      for (const serial of crl.serials) expect([serial, crlPartitionOf(serial, PARTITIONS)]).toEqual([serial, n]);
    });
  });

  it('keeps refreshing a partition the ledger has after crl.partitions shrinks', async () => {
    const p = new CrlPublisher({ ledger, ca, clock, dir: path.join(dir, 'crl-shrunk'), policy: { ...policy, partitions: 1 }, log });
    await p.check();
    const inLedger = await ledger.crlPartitions(1);
    expect(inLedger.length).toBeGreaterThan(0);
    for (const partition of inLedger) expect(p.current(partitionCrlIssuer(1, partition))).toBeDefined();
  });
});
