import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLedger } from '../../test/support/ledger-backends.js';
import { openAdminIssuer, type AdminIssuer } from '../ca/admin-issuer.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import { ManualClock } from '../core/clock.js';
import { AcmeProblem } from '../core/problem.js';
import { authenticateAdminCertificate, createAdminCertificate, revokeAdminCertificate } from './admin-certificates.js';
import { requireOperator } from './admin-tokens.js';

// The ledger decides whether an admin client certificate (already verified by TLS) is usable, on
// every request and by the injected clock: unknown, revoked or expired is a 401 that writes nothing.
const DAY = 86_400_000;
let dir: string;
let issuer: AdminIssuer;
const start = new Date('2026-03-01T00:00:00Z');

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'certmint-admin-certs-'));
  issuer = (await openAdminIssuer({ dataDir: dir, caName: 'test', crypto: nativeCryptoProvider(), now: start })).issuer;
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const spki = () => new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));

async function refusal(work: Promise<unknown>): Promise<[number | undefined, string]> {
  const e = await work.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(AcmeProblem);
  const p = e as AcmeProblem;
  expect(p.type).toBe('unauthorized');
  return [p.status, p.detail];
}

describeLedger('admin client certificates (ra/)', (backend) => {
  it('maps a recorded serial to its name and role until it expires or is revoked; refusals write nothing', async () => {
    const ledger = await backend.open();
    const clock = new ManualClock(start);
    const deps = { ledger, clock };
    const ops = await createAdminCertificate(deps, issuer, { name: 'ops', role: 'operator', expiresInMs: 10 * DAY, spki: spki() }, 'operator:root');
    const vic = await createAdminCertificate(deps, issuer, { name: 'vic', role: 'viewer', spki: spki() }, 'operator:root');
    expect(vic.notAfter.getTime() - start.getTime()).toBe(90 * DAY);
    const audit = await backend.rawCount('audit_log');

    // Node's TLS spells a serial in upper case.
    expect(await authenticateAdminCertificate(deps, ops.serial.toUpperCase())).toEqual({ kind: 'certificate', name: 'ops', role: 'operator', serial: ops.serial });
    const viewer = await authenticateAdminCertificate(deps, vic.serial);
    expect(() => requireOperator(viewer, 'revoking a certificate')).toThrow('revoking a certificate needs an operator certificate; vic is a viewer');
    expect(await refusal(authenticateAdminCertificate(deps, '01ab'))).toEqual([401, 'this client certificate is not an admin certificate known here']);

    clock.set(ops.notAfter);
    expect(await refusal(authenticateAdminCertificate(deps, ops.serial))).toEqual([401, 'this admin certificate (ops) is expired']);
    await revokeAdminCertificate(deps, 'vic', 'operator:root');
    expect(await refusal(authenticateAdminCertificate(deps, vic.serial))).toEqual([401, 'this admin certificate (vic) is revoked']);
    expect(await backend.rawCount('audit_log')).toBe(audit + 1);
  });

  it('refuses a lifetime past the issuer and a taken name; the ledger is unchanged', async () => {
    const ledger = await backend.open();
    const deps = { ledger, clock: new ManualClock(start) };
    await createAdminCertificate(deps, issuer, { name: 'amy', role: 'viewer', spki: spki() }, 'operator:root');
    const before = await backend.rawCount('admin_certificates');
    await expect(createAdminCertificate(deps, issuer, { name: 'amy', role: 'viewer', spki: spki() }, 'operator:root')).rejects.toThrow(/already an admin certificate named "amy"/);
    await expect(createAdminCertificate(deps, issuer, { name: 'bo', role: 'viewer', expiresInMs: 4000 * DAY, spki: spki() }, 'operator:root')).rejects.toThrow(/cannot outlive the admin issuer/);
    expect(await backend.rawCount('admin_certificates')).toBe(before);
  });
});
