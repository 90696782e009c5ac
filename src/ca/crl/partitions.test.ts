import { join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { DistributionPointName, Extension, GeneralName, IssuingDistributionPoint } from '@peculiar/asn1-x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { initCa } from '../ca-files.js';
import { newSerialHex } from '../serial.js';
import type { CrlRequest, IssuedLeaf } from '../types.js';
import type { X509CertificateAuthority } from '../x509-authority.js';
import { issueTestLeaf, opensslStatus, useScratchDir } from '../../../test/support/ca-scratch.js';
import { pemOf } from '../../../test/support/pem.js';
import { crlPartitionOf, issuingDistributionPointExtension, partitionCrlUrl } from './partitions.js';

const scratch = useScratchDir('crl-partitions');
const { write } = scratch;

describe('crlPartitionOf', () => {
  it('is the serial modulo N: stable, in range, and even over random serials', () => {
    expect(crlPartitionOf('01ff', 16)).toBe(0x1ff % 16);
    expect(crlPartitionOf('0100000000000000000000000000000007', 5)).toBe(Number((2n ** 128n + 7n) % 5n));
    expect(crlPartitionOf('01abcdef', 1)).toBe(0);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[crlPartitionOf(newSerialHex(), 16)]! += 1;
    // 1,000 expected in each; ±200 is more than 6 standard deviations.
    for (const count of counts) expect(Math.abs(count - 1000)).toBeLessThan(200);
  });

  it('refuses a count crl.partitions cannot hold', () => {
    for (const n of [0, 257, 1.5]) expect(() => crlPartitionOf('01', n)).toThrow(/crl.partitions must be an integer from 1 to 256/);
  });
});

describe('the Issuing Distribution Point extension', () => {
  const url = partitionCrlUrl('http://ca.internal:8080/crl', 3, 7);

  it('names the URL its leaves carry, critical, for user certificates only (parsed by @peculiar/asn1-x509)', () => {
    expect(url).toBe('http://ca.internal:8080/crl/3/7');
    const extension = AsnConvert.parse(issuingDistributionPointExtension(url), Extension);
    expect(extension.extnID).toBe('2.5.29.28');
    expect(extension.critical).toBe(true);
    const idp = AsnConvert.parse(extension.extnValue, IssuingDistributionPoint);
    expect(idp.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier)).toEqual([url]);
    expect(idp.onlyContainsUserCerts).toBe(true);
    expect(idp.onlyContainsCACerts).toBe(false);
    expect(idp.indirectCRL).toBe(false);
    expect(idp.onlySomeReasons).toBeUndefined();
  });

  it('is byte for byte what @peculiar/asn1-x509 encodes for the same value', () => {
    const idp = new IssuingDistributionPoint({
      distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }),
      onlyContainsUserCerts: true,
    });
    const theirs = new Extension({ extnID: '2.5.29.28', critical: true, extnValue: new OctetString(AsnConvert.serialize(idp)) });
    expect(Buffer.from(issuingDistributionPointExtension(url)).toString('hex')).toBe(Buffer.from(AsnConvert.serialize(theirs)).toString('hex'));
  });

  it('refuses a URL an IA5String cannot hold', () => {
    expect(() => issuingDistributionPointExtension('http://ça.internal/crl/1/0')).toThrow(/not an ASCII URI/);
  });
});

describe('a CA with crl.partitions 4', () => {
  let ca: X509CertificateAuthority;
  let rootPem: string;
  let chainPem: string;
  beforeAll(async () => {
    const dir = join(scratch.dir, 'ca');
    ca = await initCa({
      dir,
      name: 'certmint partitions',
      crlUrl: 'http://certmint.test/crl',
      caIssuersUrl: 'http://certmint.test/intermediate.der',
      crlPartitions: 4,
    });
    rootPem = join(dir, 'root.pem');
    chainPem = join(dir, 'intermediate.pem');
  });

  async function issue(): Promise<IssuedLeaf & { path: string }> {
    const leaf = await issueTestLeaf(ca);
    return { ...leaf, path: await write('leaf.pem', pemOf(leaf.der, 'CERTIFICATE')) };
  }

  function request(revoked: readonly IssuedLeaf[]): CrlRequest {
    const now = Math.floor(Date.now() / 1000) * 1000;
    return {
      crlNumber: 5n,
      thisUpdate: new Date(now - 60_000),
      nextUpdate: new Date(now + 86_400_000),
      entries: revoked.map((l) => ({ serialHex: l.serialHex, revokedAt: new Date(now - 1000), reason: 1 })),
    };
  }

  it('names each leaf its partition, whose CRL openssl matches to it and no other leaf', async () => {
    const leaves: (IssuedLeaf & { path: string })[] = [];
    // Until partition p has two leaves and some other partition one.
    while (!leaves.some((l) => leaves.filter((m) => m.crlPartition === l.crlPartition).length >= 2 && leaves.some((m) => m.crlPartition !== l.crlPartition))) {
      leaves.push(await issue());
    }
    for (const leaf of leaves) {
      expect(leaf.crlPartition).toBe(crlPartitionOf(leaf.serialHex, 4));
      const text = opensslStatus(['x509', '-in', leaf.path, '-noout', '-ext', 'crlDistributionPoints']).out;
      expect(text).toContain(`URI:http://certmint.test/crl/1/${leaf.crlPartition}\n`);
    }
    const revoked = leaves.find((l) => leaves.filter((m) => m.crlPartition === l.crlPartition).length >= 2)!;
    const p = revoked.crlPartition!;
    const good = leaves.find((l) => l !== revoked && l.crlPartition === p)!;
    const other = leaves.find((l) => l.crlPartition !== p)!;

    const crl = await ca.signCrl(request([revoked]), 1, p);
    const crlPath = await write('partition.crl.pem', pemOf(crl, 'X509 CRL'));
    const text = opensslStatus(['crl', '-in', crlPath, '-noout', '-text']).out;
    expect(text).toMatch(new RegExp(`X509v3 Issuing Distribution Point: critical\\s+Full Name:\\s+URI:http://certmint.test/crl/1/${p}\\s+Only User Certificates`));

    const verify = (leaf: string) => opensslStatus(['verify', '-crl_check', '-CRLfile', crlPath, '-CAfile', rootPem, '-untrusted', chainPem, leaf]);
    const refused = verify(revoked.path);
    expect(refused.out).toContain('certificate revoked');
    expect(refused.status).not.toBe(0);
    const ok = verify(good.path);
    expect(ok.out).toContain(': OK');
    expect(ok.status).toBe(0);
    // Another partition's leaf: the CRL's scope (its IDP) is not the leaf's distribution point, so
    // openssl refuses to take this CRL's word that it is good.
    const outOfScope = verify(other.path);
    expect(outOfScope.out).toContain('different CRL scope');
    expect(outOfScope.status).not.toBe(0);
  });

  it('puts the Issuing Distribution Point in a CRL large enough to be encoded in a worker thread', async () => {
    const count = 3000;
    const serials = Array.from({ length: count }, () => newSerialHex());
    const entries = { count, serials: serials.join(','), revokedAtMs: new Float64Array(count).fill(Date.now() - 1000), reasons: new Uint8Array(count).fill(4) };
    const crl = await ca.signCrl({ ...request([]), entries }, 1, 2);
    const crlPath = await write('large-partition.crl', crl);
    const text = opensslStatus(['crl', '-in', crlPath, '-inform', 'DER', '-noout', '-text']).out;
    expect(text).toMatch(/X509v3 Issuing Distribution Point: critical\s+Full Name:\s+URI:http:\/\/certmint.test\/crl\/1\/2\s+Only User Certificates/);
    expect(text.match(/Serial Number: /g)).toHaveLength(count);
  });

  it('signs the whole generation\'s CRL without an Issuing Distribution Point, as with one partition', async () => {
    const crlPath = await write('whole.crl.pem', pemOf(await ca.signCrl(request([])), 'X509 CRL'));
    expect(opensslStatus(['crl', '-in', crlPath, '-noout', '-text']).out).not.toContain('Issuing Distribution Point');
  });
});
