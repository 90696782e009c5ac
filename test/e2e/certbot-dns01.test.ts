import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { requireOrSkip } from '../support/clients.js';

const available = requireOrSkip('certbot', 'apt-get install certbot');

/** One line the hook script appends per call (JSON), read back to prove certbot really ran it. */
interface HookCall {
  readonly phase: 'auth' | 'cleanup';
  readonly domain: string;
  readonly validation: string;
  readonly remaining: string;
}

interface CertbotResult {
  readonly code: number;
  readonly output: string;
  readonly ms: number;
  readonly dir: string;
}

describe.skipIf(!available)('certbot --manual with dns-01 hooks against certmint', () => {
  let certmint: CertmintProcess;

  beforeAll(async () => {
    certmint = await startCertmint();
    // certbot runs the hooks through a shell with CERTBOT_DOMAIN (the name without "*.") and
    // CERTBOT_VALIDATION (the TXT value) set. The hook sets or clears _acme-challenge.<domain>
    // in pebble-challtestsrv, certmint's only DNS resolver. challtestsrv keys TXT data by the
    // exact name it is given, so the host carries the trailing dot it is queried under.
    // HOOK_TXT_VALUE (from the test) replaces the real value to provoke a failed validation.
    for (const phase of ['auth', 'cleanup'] as const) {
      await writeFile(
        path.join(certmint.tempDir, `certbot-${phase}-hook.mjs`),
        `#!${process.execPath}
import { appendFileSync } from 'node:fs';
const phase = ${JSON.stringify(phase)};
const domain = process.env.CERTBOT_DOMAIN;
const validation = process.env.CERTBOT_VALIDATION;
const host = '_acme-challenge.' + domain + '.';
appendFileSync(process.env.HOOK_LOG, JSON.stringify({ phase, domain, validation, remaining: process.env.CERTBOT_REMAINING_CHALLENGES }) + '\\n');
const body = phase === 'auth' ? { host, value: process.env.HOOK_TXT_VALUE || validation } : { host };
const res = await fetch(${JSON.stringify(certmint.dns.managementUrl)} + (phase === 'auth' ? '/set-txt' : '/clear-txt'), {
  method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5000),
});
if (!res.ok) { console.error('pebble-challtestsrv answered', res.status); process.exit(1); }
`,
        { mode: 0o755 },
      );
    }
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  /** certbot certonly --manual with both hooks, in its own config/work/logs dirs under `name`. */
  async function certbot(name: string, domains: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CertbotResult> {
    const dir = path.join(certmint.tempDir, name);
    await mkdir(dir, { recursive: true });
    const args = [
      'certonly', '--manual', '--preferred-challenges', 'dns', '--non-interactive', '--agree-tos',
      '--register-unsafely-without-email', '--server', certmint.directoryUrl,
      // certbot finds a hook's program by splitting the command on whitespace, so no quoting and
      // no arguments: one script per phase (mkdtemp's path has no spaces).
      '--manual-auth-hook', path.join(certmint.tempDir, 'certbot-auth-hook.mjs'),
      '--manual-cleanup-hook', path.join(certmint.tempDir, 'certbot-cleanup-hook.mjs'),
      '--cert-name', name,
      ...domains.flatMap((domain) => ['-d', domain]),
      '--config-dir', path.join(dir, 'config'),
      '--work-dir', path.join(dir, 'work'),
      '--logs-dir', path.join(dir, 'logs'),
    ];
    const started = performance.now();
    return new Promise((resolve) => {
      execFile(
        'certbot',
        args,
        {
          env: { ...process.env, REQUESTS_CA_BUNDLE: certmint.rootFile, HOOK_LOG: path.join(dir, 'hook.log'), ...env },
          timeout: 90_000,
        },
        (err, stdout, stderr) => {
          const ms = Math.round(performance.now() - started);
          const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
          console.log(`certbot --manual dns-01 for ${domains.join(', ')}: exit ${code} after ${ms} ms`);
          resolve({ code, ms, dir, output: `certbot ${args.join(' ')}\n${stdout}\n${stderr}\n--- certmint ---\n${certmint.output()}` });
        },
      );
    });
  }

  async function hookCalls(run: CertbotResult): Promise<HookCall[]> {
    const text = await readFile(path.join(run.dir, 'hook.log'), 'utf8');
    return text.trim().split('\n').map((line) => JSON.parse(line) as HookCall);
  }

  /** What certmint's DNS resolver serves at `name` now. */
  async function txtServed(name: string): Promise<string[]> {
    const resolver = new Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([certmint.dns.dnsAddress]);
    try {
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENODATA') return [];
      throw err;
    }
  }

  /** The lineage's fullchain verifies against certmint's root and names exactly `domains`. */
  async function expectIssuedByCertmint(run: CertbotResult, domains: readonly string[]): Promise<X509Certificate> {
    const live = path.join(run.dir, 'config', 'live', path.basename(run.dir));
    const fullchainFile = path.join(live, 'fullchain.pem');
    const fullchain = splitPem(await readFile(fullchainFile, 'utf8'));
    expect(fullchain).toHaveLength(2);
    const untrusted = path.join(run.dir, 'intermediate.pem');
    await writeFile(untrusted, fullchain[1]!);
    await expect(opensslVerify(certmint.rootFile, fullchainFile, untrusted)).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(fullchain[0]!);
    expect(leaf.raw.equals(new X509Certificate(await readFile(path.join(live, 'cert.pem'), 'utf8')).raw)).toBe(true);
    expect(dnsNames(leaf)).toEqual([...domains].sort());
    return leaf;
  }

  it('gets a certificate for one name, the hooks setting and clearing its TXT record', { timeout: 120_000 }, async () => {
    const run = await certbot('single', ['single.dns.certbot.test']);
    expect(run.code, run.output).toBe(0);
    await expectIssuedByCertmint(run, ['single.dns.certbot.test']);

    const calls = await hookCalls(run);
    expect(calls.map((c) => [c.phase, c.domain])).toEqual([
      ['auth', 'single.dns.certbot.test'],
      ['cleanup', 'single.dns.certbot.test'],
    ]);
    // base64url(SHA-256(key authorization)): 43 characters, no padding (RFC 8555 §8.4).
    expect(calls[0]!.validation).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(calls[1]!.validation).toBe(calls[0]!.validation);
    expect(await txtServed('_acme-challenge.single.dns.certbot.test')).toEqual([]);
  });

  it('gets one certificate for a wildcard and its base name, both TXT values served at once', { timeout: 120_000 }, async () => {
    const domains = ['*.wild.dns.certbot.test', 'wild.dns.certbot.test'];
    const run = await certbot('wild', domains);
    expect(run.code, run.output).toBe(0);
    await expectIssuedByCertmint(run, domains);

    // Both authorizations use _acme-challenge.wild.dns.certbot.test with different values; certbot
    // runs both auth hooks before it answers either challenge, so the DNS server must hold both
    // (challtestsrv's /set-txt adds a value; /clear-txt drops them all).
    const calls = await hookCalls(run);
    expect(calls.map((c) => [c.phase, c.domain])).toEqual([
      ['auth', 'wild.dns.certbot.test'],
      ['auth', 'wild.dns.certbot.test'],
      ['cleanup', 'wild.dns.certbot.test'],
      ['cleanup', 'wild.dns.certbot.test'],
    ]);
    expect(calls.map((c) => c.remaining).slice(0, 2)).toEqual(['1', '0']);
    const values = calls.filter((c) => c.phase === 'auth').map((c) => c.validation);
    expect(new Set(values).size).toBe(2);
    expect(await txtServed('_acme-challenge.wild.dns.certbot.test')).toEqual([]);
  });

  it('fails with incorrectResponse when the auth hook publishes the wrong value', { timeout: 120_000 }, async () => {
    const run = await certbot('wrong', ['wrong.dns.certbot.test'], { HOOK_TXT_VALUE: 'not-the-digest-of-the-key-authorization' });
    expect(run.code, run.output).not.toBe(0);
    // certbot 2.1 (Debian 12) can crash while printing ACME errors, so the problem certmint sent
    // is read from certbot's debug log.
    const log = await readFile(path.join(run.dir, 'logs', 'letsencrypt.log'), 'utf8');
    expect(log).toContain('urn:ietf:params:acme:error:incorrectResponse');
    expect(log).toContain('no TXT record at _acme-challenge.wrong.dns.certbot.test matches this challenge');
    expect(log).toContain('found 1 other value');
    // What the record holds is not quoted back: a CNAME there can lead the CA's resolver into a zone
    // the applicant cannot read (docs/security.md).
    expect(log).not.toContain('not-the-digest-of-the-key-authorization');
    // The hook ran, certbot cleaned up after the failure, and no lineage was written.
    expect((await hookCalls(run)).map((c) => c.phase)).toEqual(['auth', 'cleanup']);
    expect(await txtServed('_acme-challenge.wrong.dns.certbot.test')).toEqual([]);
    await expect(readdir(path.join(run.dir, 'config', 'live'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
