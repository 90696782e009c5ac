import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireGoClientOrSkip } from '../support/clients.js';
import { CLIENT_AUTH, SERVER_AUTH, dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { buildGoClient } from '../interop/go-client.js';

// golang.org/x/crypto/acme is the library behind cert-manager's ACME issuer; acmego follows
// cert-manager's flow with it (see test/interop/acmego).
const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);

interface SingleResult {
  readonly mode: 'single';
  readonly ok: boolean;
  readonly account: string;
  readonly order: string;
  readonly cert: string;
  readonly chain: string;
  readonly revoked: boolean;
  /** The challenge type acmego answered. */
  readonly challenge: 'http-01' | 'tls-alpn-01';
  /** Per identifier, the type of the challenge the server's authorization shows as valid. */
  readonly validated_by: Readonly<Record<string, string>>;
  /** Every validation handshake acmego's tls-alpn-01 listener saw (tls-alpn-01 only). */
  readonly tls_alpn01_handshakes?: readonly TlsAlpn01Handshake[];
  /** -rollover-and-deactivate: what acmego observed (see test/interop/acmego/lifecycle.go). */
  readonly lifecycle?: {
    readonly new_key_account: string;
    /** Problem types of the requests that had to be refused. */
    readonly old_key_lookup: string;
    readonly old_key_signed: string;
    readonly deactivated: boolean;
    readonly after_deactivation_lookup: string;
    readonly after_deactivation_signed: string;
  };
}

interface TlsAlpn01Handshake {
  /** SNI as certmint sent it. */
  readonly server_name: string;
  /** ALPN protocols certmint offered. */
  readonly protocols: readonly string[];
  /** Whose challenge certificate acmego presented; empty when it presented none. */
  readonly identifier: string;
  /** "sni", or "only-pending" when the SNI named no challenge and the only pending one was presented. */
  readonly matched_by: string;
  /** The presented certificate's SANs, e.g. "ip:127.0.0.1". */
  readonly san: string;
  /** "x/crypto" (TLSALPN01ChallengeCert as is) or "acmego" (built by acmego, see tlsalpn01.go). */
  readonly cert: string;
}

/** acmego exited non-zero; `stderr` holds its error, including the server's problem. */
class AcmegoFailure extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

interface LoadResult {
  readonly mode: 'load';
  readonly n: number;
  readonly c: number;
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly per_sec: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly first_error?: string;
}

/** One HTTP exchange acmego's client made, as its recording transport saw it (ratelimit.go). */
interface Exchange {
  readonly method: string;
  readonly url: string;
  /** Milliseconds since the AuthorizeOrder call began. */
  readonly sent_ms: number;
  readonly received_ms: number;
  readonly status: number;
  /** The Retry-After header, absent when the response had none. */
  readonly retry_after?: string;
  /** The type of an application/problem+json body. */
  readonly problem?: string;
}

interface ProbeOrder {
  readonly uri: string;
  readonly status: string;
  /** Authorization URL → status, read right after AuthorizeOrder returned. */
  readonly authorizations: Readonly<Record<string, string>>;
  /** How long AuthorizeOrder took, x/crypto's waiting on Retry-After included. */
  readonly ms: number;
  readonly exchanges: readonly Exchange[];
}

/** -rate-limit-probe: see test/interop/acmego/ratelimit.go. */
interface RateLimitProbeResult {
  readonly mode: 'rate-limit-probe';
  readonly ok: boolean;
  readonly account: string;
  readonly first_order: ProbeOrder;
  readonly second_order: ProbeOrder;
  /** The first order's authorizations, read again once the second order exists. */
  readonly first_authorizations_after: Readonly<Record<string, string>>;
}

/** Runs acmego against `server` and parses the one JSON line it prints on stdout. */
function runAcmego<T>(server: CertmintProcess, args: readonly string[]): Promise<T> {
  const allArgs = [
    '-directory', server.directoryUrl,
    '-ca-bundle', server.rootFile,
    '-http01-listen', `127.0.0.1:${server.http01Port}`,
    '-tls-alpn01-listen', `127.0.0.1:${server.tlsAlpn01Port}`,
    ...args,
  ];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(acmego!, allArgs, { timeout: 100_000 }, (err, stdout, stderr) => {
      const ms = Math.round(performance.now() - started);
      const failure = (why: string): AcmegoFailure =>
        new AcmegoFailure(`acmego ${allArgs.join(' ')} ${why} after ${ms} ms\n${stdout}\n${stderr}\n--- certmint ---\n${server.output()}`, stderr);
      if (err) {
        reject(failure(`failed: ${err.message}`));
        return;
      }
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        const result = JSON.parse(line) as T;
        console.log(`acmego ${args.join(' ')}: ${ms} ms`);
        resolve(result);
      } catch {
        reject(failure('printed no JSON line'));
      }
    });
  });
}

describe.skipIf(!acmegoFound)('golang.org/x/crypto/acme (acmego) against certmint', () => {
  let certmint: CertmintProcess;

  beforeAll(async () => {
    certmint = await startCertmint();
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  it('issues a certificate for two names (single mode)', { timeout: 120_000 }, async () => {
    const names = ['web.go-acme.test', 'api.go-acme.test'];
    const result = await runAcmego<SingleResult>(certmint, ['-mode', 'single', '-names', names.join(','), '-out', path.join(certmint.tempDir, 'acmego')]);
    expect(result).toMatchObject({ mode: 'single', ok: true });
    for (const url of [result.account, result.order, result.cert]) expect(url.startsWith(`${certmint.baseUrl}/`)).toBe(true);

    // chain.pem is the bundle (leaf first, then the intermediate), as cert-manager stores tls.crt.
    await expect(opensslVerify(certmint.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
    const blocks = splitPem(await readFile(result.chain, 'utf8'));
    expect(blocks).toHaveLength(2);
    expect(new X509Certificate(blocks[1]!).checkIssued(new X509Certificate(certmint.rootPem))).toBe(true);
    const leaf = new X509Certificate(blocks[0]!);
    expect(dnsNames(leaf)).toEqual([...names].sort());
    expect(leaf.keyUsage).toEqual(expect.arrayContaining([SERVER_AUTH, CLIENT_AUTH]));
    expect(result.validated_by).toEqual(Object.fromEntries(names.map((n) => [n, 'http-01'])));
  });

  it('honours notAfter requested in newOrder (WithOrderNotAfter, as cert-manager sends its duration)', { timeout: 120_000 }, async () => {
    const started = Date.now();
    const result = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-names', 'short.go-acme.test', '-not-after', '72h', '-out', path.join(certmint.tempDir, 'acmego-notafter'),
    ]);
    const leaf = new X509Certificate(splitPem(await readFile(result.chain, 'utf8'))[0]!);
    const notAfter = new Date(leaf.validTo).getTime();
    // X.509 times have whole seconds; the request was made between started and now.
    expect(notAfter).toBeGreaterThanOrEqual(Math.floor((started + 72 * 3_600_000) / 1000) * 1000);
    expect(notAfter).toBeLessThanOrEqual(Date.now() + 72 * 3_600_000);
  });

  it('revokes a certificate signed with the certificate\'s own key (RevokeCert, keyCompromise)', { timeout: 120_000 }, async () => {
    const result = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-names', 'revoked.go-acme.test', '-out', path.join(certmint.tempDir, 'acmego-revoke'), '-revoke-with-cert-key',
    ]);
    expect(result).toMatchObject({ ok: true, revoked: true });
    const shown = await certmint.showCertificate(result.cert.split('/').pop()!);
    expect(shown).toMatchObject({ status: 'revoked', revocationReason: 'keyCompromise' });
    expect(shown.audit).toMatchObject([{ action: 'issue' }, { action: 'revoke', actor: 'certificate-key', reason: 1 }]);
  });

  it('rolls the account key over (AccountKeyRollover), then deactivates the account (DeactivateReg)', { timeout: 120_000 }, async () => {
    const result = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-names', 'lifecycle.go-acme.test', '-out', path.join(certmint.tempDir, 'acmego-lifecycle'), '-rollover-and-deactivate',
    ]);
    expect(result).toMatchObject({ ok: true });
    // acmego fails by itself when a request that must be refused succeeds; these are the answers it got.
    expect(result.lifecycle).toEqual({
      new_key_account: result.account,
      // The old key finds no account, and its signature no longer verifies for the account's kid.
      old_key_lookup: 'accountDoesNotExist',
      old_key_signed: 'malformed',
      deactivated: true,
      after_deactivation_lookup: 'unauthorized',
      after_deactivation_signed: 'unauthorized',
    });
    const cli = await certmint.cli(['accounts', 'show', result.account, '--json']);
    expect(cli.stderr).toBe('');
    const shown = JSON.parse(cli.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({ status: 'deactivated', certificates: 1 });
    expect((shown.audit as { action: string }[]).map((a) => a.action)).toEqual(['account-create', 'account-key-change', 'account-deactivate']);
  });

  it('issues for an IP address identifier (IPIDs, RFC 8738) with an iPAddress SAN', { timeout: 120_000 }, async () => {
    const result = await runAcmego<SingleResult>(certmint, ['-mode', 'single', '-names', '127.0.0.1', '-out', path.join(certmint.tempDir, 'acmego-ip')]);
    expect(result).toMatchObject({ ok: true });
    await expect(opensslVerify(certmint.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(splitPem(await readFile(result.chain, 'utf8'))[0]!);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1');
  });

  it('issues for two names with tls-alpn-01 (RFC 8737), the SNI picking each challenge certificate', { timeout: 120_000 }, async () => {
    const names = ['alpn.go-acme.test', 'www.alpn.go-acme.test'];
    const result = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-challenge', 'tls-alpn-01', '-names', names.join(','), '-out', path.join(certmint.tempDir, 'acmego-alpn'),
    ]);
    expect(result).toMatchObject({ ok: true, challenge: 'tls-alpn-01' });
    expect(result.validated_by).toEqual(Object.fromEntries(names.map((n) => [n, 'tls-alpn-01'])));
    // Both challenges were pending at once, so a certificate served for the wrong SNI would fail.
    const handshakes = result.tls_alpn01_handshakes ?? [];
    expect(new Set(handshakes.map((h) => h.server_name))).toEqual(new Set(names));
    for (const h of handshakes) {
      expect(h).toEqual({
        server_name: h.server_name, protocols: ['acme-tls/1'], identifier: h.server_name, matched_by: 'sni', san: `dns:${h.server_name}`, cert: 'x/crypto',
      });
    }

    await expect(opensslVerify(certmint.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(splitPem(await readFile(result.chain, 'utf8'))[0]!);
    expect(dnsNames(leaf)).toEqual([...names].sort());
    expect(leaf.keyUsage).toEqual(expect.arrayContaining([SERVER_AUTH, CLIENT_AUTH]));
  });

  it('issues for 127.0.0.1 with tls-alpn-01: SNI is the reverse-DNS name, the answer an iPAddress SAN (RFC 8738 §6)', { timeout: 120_000 }, async () => {
    const result = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-challenge', 'tls-alpn-01', '-names', '127.0.0.1', '-out', path.join(certmint.tempDir, 'acmego-alpn-ip'),
    ]);
    expect(result).toMatchObject({ ok: true, challenge: 'tls-alpn-01', validated_by: { '127.0.0.1': 'tls-alpn-01' } });
    // x/crypto v0.4.0's TLSALPN01ChallengeCert writes the address as a dNSName SAN, so acmego
    // presents its own certificate with the iPAddress SAN (cert: 'acmego').
    const handshakes = result.tls_alpn01_handshakes ?? [];
    expect(handshakes.length).toBeGreaterThan(0);
    for (const h of handshakes) {
      expect(h).toEqual({
        server_name: '1.0.0.127.in-addr.arpa', protocols: ['acme-tls/1'], identifier: '127.0.0.1', matched_by: 'sni', san: 'ip:127.0.0.1', cert: 'acmego',
      });
    }

    await expect(opensslVerify(certmint.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(splitPem(await readFile(result.chain, 'utf8'))[0]!);
    expect(leaf.subjectAltName).toBe('IP Address:127.0.0.1');
  });

  it('refuses x/crypto\'s own tls-alpn-01 certificate for an IP (a dNSName SAN "127.0.0.1") as unauthorized', { timeout: 120_000 }, async () => {
    const failure = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-challenge', 'tls-alpn-01', '-tls-alpn01-xcrypto-ip-cert', '-names', '127.0.0.1', '-out', path.join(certmint.tempDir, 'acmego-alpn-xcrypto-ip'),
    ]).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AcmegoFailure);
    // x/crypto prints the challenge's problem: "acme: authorization error for 127.0.0.1: <status> <type>: <detail>".
    expect((failure as AcmegoFailure).stderr).toMatch(/authorization error for 127\.0\.0\.1: .*urn:ietf:params:acme:error:unauthorized/);
  });

  it('issues 40 certificates over 8 concurrent accounts without an error (load mode)', { timeout: 120_000 }, async () => {
    const result = await runAcmego<LoadResult>(certmint, ['-mode', 'load', '-n', '40', '-c', '8']);
    // The numbers go to the run's notes: throughput and latency of full cert-manager-style flows.
    console.log(JSON.stringify(result));
    expect(result).toMatchObject({ mode: 'load', n: 40, c: 8, errors: 0, ok: 40 });
  });
});

describe.skipIf(!acmegoFound)('acmego with external account binding (eab.required), as cert-manager binds', () => {
  let certmint: CertmintProcess;

  beforeAll(async () => {
    certmint = await startCertmint({ config: { eab: { required: true } } });
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  it('registers with a key from `certmint eab create` and issues; `eab list` counts the binding', { timeout: 120_000 }, async () => {
    const created = await certmint.cli(['eab', 'create', '--label', 'cert-manager', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { kid: string; hmacKey: string };
    expect(key.hmacKey).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const names = ['eab.go-acme.test'];
    // Key ids and HMAC keys are base64url and may begin with "-", hence the -flag=value form.
    const result = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-names', names.join(','), '-out', path.join(certmint.tempDir, 'acmego-eab'),
      `-eab-kid=${key.kid}`, `-eab-hmac=${key.hmacKey}`,
    ]);
    expect(result).toMatchObject({ mode: 'single', ok: true, validated_by: { [names[0]!]: 'http-01' } });
    await expect(opensslVerify(certmint.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
    expect(dnsNames(new X509Certificate(splitPem(await readFile(result.chain, 'utf8'))[0]!))).toEqual(names);

    const listed = await certmint.cli(['eab', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const keys = JSON.parse(listed.stdout) as { kid: string; label: string; bindings: number }[];
    expect(keys.find((k) => k.kid === key.kid)).toMatchObject({ label: 'cert-manager', bindings: 1 });
    expect(listed.stdout).not.toContain(key.hmacKey);
  });

  it('without -eab-kid/-eab-hmac registration fails with externalAccountRequired', { timeout: 60_000 }, async () => {
    // x/crypto's Register does not read meta.externalAccountRequired: it sends newAccount and
    // returns certmint's problem, which acmego prints as "register: <status> <type>: <detail>".
    const failure = await runAcmego<SingleResult>(certmint, [
      '-mode', 'single', '-names', 'no-eab.go-acme.test', '-out', path.join(certmint.tempDir, 'acmego-no-eab'),
    ]).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AcmegoFailure);
    expect((failure as AcmegoFailure).stderr).toMatch(/register: 4\d\d urn:ietf:params:acme:error:externalAccountRequired: /);
  });
});

describe.skipIf(!acmegoFound)('acmego waits out a 429 rateLimited with Retry-After (pending authorizations limit)', () => {
  let certmint: CertmintProcess;
  const LIFETIME_S = 3;

  beforeAll(async () => {
    certmint = await startCertmint({
      config: { limits: { pendingAuthorizationsPerAccount: 1 }, policy: { pendingAuthorizationLifetime: `${LIFETIME_S}s` } },
    });
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  it('refuses a second pending authorization with Retry-After; x/crypto retries after it and gets the order', { timeout: 60_000 }, async () => {
    const result = await runAcmego<RateLimitProbeResult>(certmint, ['-mode', 'single', '-rate-limit-probe', '-names', 'first.limits.go-acme.test,second.limits.go-acme.test']);
    expect(result).toMatchObject({ mode: 'rate-limit-probe', ok: true });
    const { first_order: first, second_order: second } = result;
    const detail = JSON.stringify(result);

    // The first order fits the limit; its one authorization is left pending.
    expect(first.exchanges.map((e) => [e.method, e.status]), detail).toEqual([['POST', 201]]);
    const newOrderUrl = first.exchanges[0]!.url;
    expect(Object.values(first.authorizations)).toEqual(['pending']);

    // The second: 429 rateLimited with Retry-After in whole seconds (RFC 8555 §6.6), at most
    // the authorization lifetime away, then x/crypto's own retry of newOrder, which is created.
    const posts = second.exchanges.filter((e) => e.method === 'POST' && e.url === newOrderUrl);
    expect(posts.map((e) => e.status), detail).toEqual([429, 201]);
    const [refused, retried] = posts as [Exchange, Exchange];
    expect(refused.problem).toBe('urn:ietf:params:acme:error:rateLimited');
    expect(refused.retry_after, detail).toMatch(/^\d+$/);
    const retryAfterMs = Number(refused.retry_after) * 1000;
    expect(retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(retryAfterMs).toBeLessThanOrEqual(LIFETIME_S * 1000);
    // x/crypto's defaultBackoff waits Retry-After plus 1–1000 ms of jitter before sending again:
    // never sooner than Retry-After. No upper limit: how late a timer fires on a loaded machine is
    // not a property of certmint or the client (the log line below reports the wait).
    expect(retried.sent_ms - refused.received_ms, detail).toBeGreaterThanOrEqual(retryAfterMs);
    expect(second.ms).toBeGreaterThanOrEqual(retryAfterMs);
    expect(second).toMatchObject({ status: 'pending' });
    expect(Object.values(second.authorizations)).toEqual(['pending']);
    // The second order was let in because the first authorization's lifetime ran out.
    expect(result.first_authorizations_after, detail).toEqual(Object.fromEntries(Object.keys(first.authorizations).map((u) => [u, 'expired'])));
    console.log(`second AuthorizeOrder: ${second.ms} ms (429 with Retry-After ${refused.retry_after} s, retry sent ${Math.round(retried.sent_ms - refused.received_ms)} ms after it)`);
  });
});
