import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { expect, vi } from 'vitest';
import type { AcmeWire, WireAccount } from './acme-wire.js';
import type { CertmintProcess } from './certmint-process.js';
import type { Http01Responder } from './http01-responder.js';
import { splitPem } from './issued-certificate.js';
import { SOFTHSM_MODULE, type SoftHsmToken } from './softhsm.js';

// What the end-to-end suites of ca.keyProvider pkcs11 share (test/e2e/hsm*.test.ts): the config of
// a SoftHSM token, its key objects, the served CRLs, and one issuance over the wire.

export const INTERMEDIATE_URI = 'pkcs11:object=certmint-intermediate';
export const ROOT_URI = 'pkcs11:object=certmint-root';

export function pinFileOf(hsm: SoftHsmToken, pin = hsm.pin): string {
  const file = path.join(hsm.dir, 'pin');
  rmSync(file, { force: true });
  writeFileSync(file, `${pin}\n`, { mode: 0o600 });
  return file;
}

export function pkcs11Config(hsm: SoftHsmToken, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    keyProvider: 'pkcs11',
    pkcs11: { module: SOFTHSM_MODULE, token: hsm.label, pinFile: pinFileOf(hsm), intermediateKey: INTERMEDIATE_URI, rootKey: ROOT_URI, ...over },
  };
}

export function privateKeyObjects(hsm: SoftHsmToken): string {
  return hsm.pkcs11Tool(['--token-label', hsm.label, '--list-objects', '--type', 'privkey']);
}

export function openssl(args: readonly string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

/** The generation-1 CRL as served, PEM, once `serial` is (or is not) on it. */
export async function servedCrl(certmint: CertmintProcess, dir: string, serial: string, listed: boolean, crlPath = '/crl'): Promise<string> {
  const der = path.join(dir, 'served.crl');
  const pem = path.join(dir, 'served.crl.pem');
  await vi.waitFor(
    async () => {
      await writeFile(der, await fetchDer(certmint, crlPath));
      const text = openssl(['crl', '-in', der, '-inform', 'DER', '-noout', '-text']).out;
      expect(text.includes(serial.toUpperCase())).toBe(listed);
    },
    { timeout: 15_000, interval: 200 },
  );
  openssl(['crl', '-in', der, '-inform', 'DER', '-out', pem]);
  return pem;
}

export function fetchDer(certmint: CertmintProcess, urlPath: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(`${certmint.baseUrl}${urlPath}`, { ca: certmint.rootPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve(Buffer.concat(chunks)));
    });
    req.once('error', reject);
    req.end();
  });
}

/** One certificate over the wire: a ready order, finalize (retried while 503), the certificate PEM. */
export async function issue(
  wire: AcmeWire,
  account: WireAccount,
  responder: Http01Responder,
  names: readonly string[],
  on503: (retryAfter: string | undefined) => Promise<void> = async () => {
    throw new Error('finalize answered 503');
  },
): Promise<{ serial: string; pem: string }> {
  const order = await wire.readyOrder(account, names, responder);
  for (;;) {
    const res = await wire.finalize(account, order.finalize, names);
    if (res.status === 503) {
      await on503(res.headers['retry-after'] as string | undefined);
      continue;
    }
    if (res.status !== 200) throw new Error(`finalize: ${res.status} ${res.body}`);
    let body = JSON.parse(res.body) as { status: string; certificate?: string };
    for (let i = 0; body.status !== 'valid' && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      body = JSON.parse((await wire.postAsGet(account, order.url)).body) as typeof body;
    }
    const pem = (await wire.postAsGet(account, body.certificate!)).body;
    return { serial: new X509Certificate(splitPem(pem)[0]!).serialNumber.toLowerCase(), pem };
  }
}
