// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, loadCa, type CaOptions } from './ca-files.js';
import { NAME_CONSTRAINTS_OID, nameConstraintsJson, parseNameConstraints } from './name-constraints.js';
import { rotateIntermediate, rotateRoot } from './rotation.js';

// ca.nameConstraints: written into the intermediates certmint creates (init, both rotations); the
// CA exposes the active intermediate's, read back from its certificate.
let base: string;
let n = 0;

function options(nameConstraints?: { permitted?: string[]; excluded?: string[] }): CaOptions {
  n += 1;
  return {
    dir: join(base, `ca-${n}`),
    name: 'nc test',
    crlUrl: 'http://certmint.test/crl',
    caIssuersUrl: 'http://certmint.test/intermediate.der',
    ...(nameConstraints ? { nameConstraints: parseNameConstraints(nameConstraints) } : {}),
  };
}

/** What OpenSSL reads in the certificate: the extension's criticality and its subtrees. */
function opensslText(file: string): string {
  return execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-nc-'));
});
afterAll(async () => rm(base, { recursive: true, force: true }));

describe('name-constrained intermediates', () => {
  it('ca init writes a critical NameConstraints extension that OpenSSL reads as configured', async () => {
    const o = options({ permitted: ['example.internal', '10.0.0.0/8', 'uri:cluster.local'], excluded: ['secret.example.internal'] });
    const ca = await initCa(o);
    const ext = ca.intermediateCertificate.extensions.find((e) => e.type === NAME_CONSTRAINTS_OID);
    expect(ext?.critical).toBe(true);
    expect(nameConstraintsJson(ca.nameConstraints)).toEqual({
      permitted: ['example.internal', '10.0.0.0/8', 'uri:cluster.local'],
      excluded: ['secret.example.internal'],
    });
    expect(ca.generations[0]!.nameConstraints).toEqual(ca.nameConstraints);
    const text = opensslText(join(o.dir, 'intermediate.pem'));
    expect(text).toMatch(/X509v3 Name Constraints: critical\s+Permitted:\s+DNS:example\.internal\s+IP:10\.0\.0\.0\/255\.0\.0\.0\s+URI:cluster\.local\s+Excluded:\s+DNS:secret\.example\.internal/);
    // The root itself carries none: it is what every client already trusts.
    expect(ca.rootCertificate.extensions.some((e) => e.type === NAME_CONSTRAINTS_OID)).toBe(false);
    // Loading again reads them from the file, not from the options.
    expect(nameConstraintsJson((await loadCa({ ...o, nameConstraints: undefined })).nameConstraints)).toEqual(nameConstraintsJson(ca.nameConstraints));
  });

  it('without ca.nameConstraints the intermediate has no extension and the CA none', async () => {
    const ca = await initCa(options());
    expect(ca.intermediateCertificate.extensions.some((e) => e.type === NAME_CONSTRAINTS_OID)).toBe(false);
    expect(ca.nameConstraints).toBeUndefined();
  });

  it('rotate-intermediate writes the constraints configured now; the old generation keeps its own', async () => {
    const o = options();
    await initCa(o);
    const { ca } = await rotateIntermediate({ ...o, nameConstraints: parseNameConstraints({ permitted: ['svc.internal'], excluded: ['fd00::/8'] }) });
    expect(ca.activeGeneration).toBe(2);
    expect(nameConstraintsJson(ca.nameConstraints)).toEqual({ permitted: ['svc.internal'], excluded: ['fd00::/8'] });
    expect(ca.generations[0]!.nameConstraints).toBeUndefined();
    const cert = new x509.X509Certificate(await readFile(join(o.dir, 'intermediate-2.pem'), 'utf8'));
    expect(cert.extensions.find((e) => e.type === NAME_CONSTRAINTS_OID)?.critical).toBe(true);
    expect(opensslText(join(o.dir, 'intermediate-2.pem'))).toMatch(/Permitted:\s+DNS:svc\.internal\s+Excluded:\s+IP:FD00:0:0:0:0:0:0:0\/FF00:0:0:0:0:0:0:0/);
  });

  it("rotate-root's new intermediate carries them too", async () => {
    const o = options();
    await initCa(o);
    const { ca } = await rotateRoot({ ...o, nameConstraints: parseNameConstraints({ permitted: ['mesh.internal'] }) });
    expect(nameConstraintsJson(ca.nameConstraints)).toEqual({ permitted: ['mesh.internal'], excluded: [] });
    expect(ca.rootCertificate.extensions.some((e) => e.type === NAME_CONSTRAINTS_OID)).toBe(false);
  });
});
