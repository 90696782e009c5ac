// Before @peculiar/x509: its DI container needs the reflect polyfill at import time.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeCrl } from '../../src/ca/crl/info.js';
import { buildGoClient } from '../interop/go-client.js';
import { httpsGet, startCertmintPair, type CertmintPair } from '../support/certmint-pair.js';
import { requireGoClientOrSkip, requireOrSkip } from '../support/clients.js';
import { haproxyAvailable } from '../support/haproxy.js';
import { dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { postgresAvailable } from '../support/postgres.js';

// Issue 12: two `certmint serve` instances on one PostgreSQL ledger behind haproxy, which
// balances every request on its own, so each step of a client's flow may reach either instance.
// lego and the Go client (golang.org/x/crypto/acme) issue, renew and revoke through it; each
// instance's CRL lists what either revoked.

const legoFound = requireOrSkip('lego', 'apt-get install lego');
const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);
const available = postgresAvailable() && haproxyAvailable() && legoFound && acmegoFound;

const CRL_DEADLINE_MS = 20_000;
const pick = (o: Record<string, number>, key: RegExp) => Object.fromEntries(Object.entries(o).filter(([k]) => key.test(k)));
/** Serials as Go and openssl print them: lower-case hex without leading zero octets. */
const normalized = (hex: string) => hex.toLowerCase().replace(/^(00)+/, '');

describe.skipIf(!available)('two certmint instances on one PostgreSQL ledger behind haproxy', () => {
  let pair: CertmintPair;
  let legoDir: string;
  const revoked: string[] = [];
  /** The intermediate that signed the certificates (and the CRL), as the Go client received it. */
  let intermediatePem = '';

  beforeAll(async () => {
    pair = await startCertmintPair();
    legoDir = path.join(pair.tempDir, 'lego');
  });
  afterAll(async () => {
    await pair?.stop();
  });

  function lego(names: readonly string[], command: readonly string[]): Promise<void> {
    const args = [
      '--server', pair.directoryUrl, '--email', 'ops@example.internal', '--accept-tos',
      ...names.flatMap((n) => ['--domains', n]),
      '--http', '--http.port', `127.0.0.1:${pair.http01Port}`, '--path', legoDir, ...command,
    ];
    const started = performance.now();
    return new Promise((resolve, reject) => {
      execFile('lego', args, { env: { ...process.env, LEGO_CA_CERTIFICATES: pair.rootFile }, timeout: 90_000 }, (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`lego ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}\n${pair.output()}`));
          return;
        }
        console.log(`lego ${command.join(' ')} for ${names.join(', ')} through haproxy: ${Math.round(performance.now() - started)} ms`);
        resolve();
      });
    });
  }

  async function legoCertificate(name: string): Promise<X509Certificate> {
    const bundle = path.join(legoDir, 'certificates', `${name}.crt`);
    const issuer = path.join(legoDir, 'certificates', `${name}.issuer.crt`);
    await expect(opensslVerify(pair.rootFile, bundle, issuer)).resolves.toMatch(/: OK$/m);
    return new X509Certificate(splitPem(await readFile(bundle, 'utf8'))[0]!);
  }

  /** Requests each instance answered while `work` ran (by its /metrics), and what haproxy logged meanwhile. */
  async function splitOf(work: () => Promise<void>): Promise<[number, number, Record<string, [number, number]>, Record<string, number>]> {
    const before = await pair.requestsServed();
    const proxyBefore = pair.haproxy.answers();
    await work();
    const after = await pair.requestsServed();
    const proxied: Record<string, number> = {};
    for (const [key, n] of Object.entries(pair.haproxy.answers())) if (n > (proxyBefore[key] ?? 0)) proxied[key] = n - (proxyBefore[key] ?? 0);
    const byRoute: Record<string, [number, number]> = {};
    for (const i of [0, 1] as const) {
      for (const [route, n] of Object.entries(after[i])) {
        const delta = n - (before[i][route] ?? 0);
        if (delta > 0) (byRoute[route] ??= [0, 0])[i] = delta;
      }
    }
    const total = (i: 0 | 1) => Object.values(byRoute).reduce((sum, counts) => sum + counts[i], 0);
    return [total(0), total(1), byRoute, proxied];
  }

  it('lego issues through haproxy, its consecutive requests answered by both instances', { timeout: 120_000 }, async () => {
    const names = ['web.scale.test', 'api.scale.test'];
    const [first, second, byRoute, proxied] = await splitOf(() => lego(names, ['run']));
    console.log(`one lego run: instance 1 answered ${first} requests, instance 2 ${second}; by route: ${JSON.stringify(byRoute)}; haproxy's log: ${JSON.stringify(proxied)}`);
    // Round robin per request: one client on one keep-alive connection is served by both,
    // about half each (haproxy's health checks are not counted, they go to /ready).
    expect(first).toBeGreaterThanOrEqual((first + second) / 3);
    expect(second).toBeGreaterThanOrEqual((first + second) / 3);
    // haproxy's own log says the same: it sent this client's requests to both, every one answered.
    expect(proxied).toEqual({ 'certmint1 200': expect.any(Number), 'certmint2 200': expect.any(Number), ...pick(proxied, /^certmint\d (201|204)$/) });
    expect(Object.values(proxied).reduce((a, b) => a + b, 0)).toBe(first + second);
    // Signed requests too: a nonce from one instance is spent at the other.
    const signed = Object.entries(byRoute).filter(([route]) => route.startsWith('POST '));
    expect(signed.reduce((s, [, c]) => s + c[0], 0)).toBeGreaterThan(0);
    expect(signed.reduce((s, [, c]) => s + c[1], 0)).toBeGreaterThan(0);

    const leaf = await legoCertificate(names[0]!);
    expect(dnsNames(leaf)).toEqual([...names].sort());
    const rows = await pair.query<{ status: string }>('SELECT status FROM certificates WHERE serial = $1', [leaf.serialNumber.toLowerCase()]);
    expect(rows).toEqual([{ status: 'valid' }]);
  });

  it('lego renews through haproxy: a new certificate, chaining to the same roots', { timeout: 120_000 }, async () => {
    const names = ['web.scale.test', 'api.scale.test'];
    const before = await legoCertificate(names[0]!);
    // --days beyond the 45-day lifetime: renew now.
    await lego(names, ['renew', '--days', '3650', '--no-random-sleep']);
    const after = await legoCertificate(names[0]!);
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(dnsNames(after)).toEqual([...names].sort());
  });

  it('lego revokes through haproxy; the ledger records it', { timeout: 120_000 }, async () => {
    const leaf = await legoCertificate('web.scale.test');
    await lego(['web.scale.test'], ['revoke', '--reason', '4']);
    const serial = leaf.serialNumber.toLowerCase();
    const rows = await pair.query<{ status: string; revocation_reason: number }>('SELECT status, revocation_reason FROM certificates WHERE serial = $1', [serial]);
    expect(rows).toEqual([{ status: 'revoked', revocation_reason: 4 }]);
    revoked.push(serial);
  });

  it('the Go client (x/crypto/acme) issues, renews (a new order for the same names, as cert-manager does) and revokes through haproxy', { timeout: 180_000 }, async () => {
    const runAcmego = (out: string, revoke: boolean) =>
      new Promise<string>((resolve, reject) => {
        execFile(
          acmego!,
          [
            '-directory', pair.directoryUrl, '-ca-bundle', pair.rootFile,
            '-http01-listen', `127.0.0.1:${pair.http01Port}`, '-tls-alpn01-listen', `127.0.0.1:${pair.tlsAlpn01Port}`,
            '-mode', 'single', '-names', 'go.scale.test,www.go.scale.test', '-out', out, ...(revoke ? ['-revoke-with-cert-key'] : []),
          ],
          { timeout: 90_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`acmego failed: ${err.message}\n${stderr}\n${pair.output()}`)) : resolve(stdout)),
        );
      });
    type Result = { ok: boolean; revoked: boolean; cert: string; chain: string; account: string };
    const serials: string[] = [];
    for (const [run, revoke] of [['issue', false], ['renew', true]] as const) {
      const result = JSON.parse(await runAcmego(path.join(pair.tempDir, `acmego-${run}`), revoke)) as Result;
      expect(result, run).toMatchObject({ ok: true, revoked: revoke });
      for (const url of [result.account, result.cert]) expect(url.startsWith(`${pair.baseUrl}/`)).toBe(true);
      await expect(opensslVerify(pair.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
      const [leafPem, issuerPem] = splitPem(await readFile(result.chain, 'utf8'));
      const leaf = new X509Certificate(leafPem!);
      intermediatePem = issuerPem!;
      expect(dnsNames(leaf)).toEqual(['go.scale.test', 'www.go.scale.test']);
      serials.push(leaf.serialNumber.toLowerCase());
    }
    const [issued, renewed] = serials as [string, string];
    expect(renewed).not.toBe(issued);
    const rows = await pair.query<{ serial: string; status: string; revocation_reason: number | null }>(
      'SELECT serial, status, revocation_reason FROM certificates WHERE serial = ANY($1) ORDER BY created_at',
      [serials],
    );
    expect(rows).toEqual([
      { serial: issued, status: 'valid', revocation_reason: null },
      { serial: renewed, status: 'revoked', revocation_reason: 1 },
    ]);
    revoked.push(renewed);
  });

  it('each instance\'s own /crl lists both revoked serials, with the same CRL number', { timeout: 60_000 }, async () => {
    expect(revoked).toHaveLength(2);
    const bundle = path.join(pair.tempDir, 'crl-ca-bundle.pem');
    await writeFile(bundle, intermediatePem + pair.rootPem);
    const started = performance.now();
    let last: { serials: string[]; crlNumber: bigint | undefined }[] = [];
    // Whichever instance revoked built the new CRL; the other adopts it from the ledger at its
    // next check (crl.checkInterval 1s here). Polled by the test only, with a deadline.
    for (;;) {
      last = await Promise.all(
        pair.instances.map(async (instance) => {
          const res = await httpsGet(`${instance.directUrl}/crl`, pair.rootPem);
          if (res.status !== 200) return { serials: [], crlNumber: undefined };
          const crl = new x509.X509Crl(new Uint8Array(res.body));
          return { serials: crl.entries.map((e) => normalized(e.serialNumber)), crlNumber: describeCrl(new Uint8Array(res.body)).crlNumber };
        }),
      );
      const listsAll = last.every((c) => revoked.every((s) => c.serials.includes(normalized(s))));
      if (listsAll && last[0]!.crlNumber === last[1]!.crlNumber) break;
      if (performance.now() - started > CRL_DEADLINE_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    console.log(`both instances served a CRL listing both revocations after ${Math.round(performance.now() - started)} ms (CRL numbers ${last.map((c) => c.crlNumber).join(', ')})`);
    for (const crl of last) expect(crl.serials).toEqual(expect.arrayContaining(revoked.map(normalized)));
    expect(last[0]!.crlNumber).toBeDefined();
    expect(last[0]!.crlNumber).toBe(last[1]!.crlNumber);

    // What a relying party checks: the CRL each instance serves is signed by the intermediate.
    for (const [i, instance] of pair.instances.entries()) {
      const file = path.join(pair.tempDir, `instance${i + 1}.crl`);
      await writeFile(file, (await httpsGet(`${instance.directUrl}/crl`, pair.rootPem)).body);
      const verified = await new Promise<string>((resolve, reject) =>
        execFile('openssl', ['crl', '-inform', 'DER', '-in', file, '-CAfile', bundle, '-noout'], (err, stdout, stderr) =>
          err ? reject(new Error(`openssl crl: ${stderr}`)) : resolve(stdout + stderr),
        ),
      );
      expect(verified).toMatch(/verify OK/);
    }
  });
});
