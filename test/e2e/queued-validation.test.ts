import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireGoClientOrSkip, requireOrSkip } from '../support/clients.js';
import { startFaultyDnsServer, type FaultyDnsServer } from '../support/dns-responders.js';
import { buildGoClient } from '../interop/go-client.js';

// Issue 20, point 1: a challenge POST beyond validation.maxConcurrentPerAccount is answered
// `processing` with Retry-After and validated once a slot frees. Real clients must still complete:
// certbot (answers every challenge, then polls the authorizations), lego (polls the authorization
// for up to 100 x the challenge answer's Retry-After) and golang.org/x/crypto/acme (Accept, then
// WaitAuthorization: cert-manager's flow). Here an account may run one validation at a time, every
// POST is answered at once (answerWithin 0), and each lookup is answered after SLOW_MS, so an
// order's second and third challenges wait in the queue.

const SLOW_MS = 1_000;
const CLIENT_TIMEOUT_MS = 90_000;
const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);
const certbotFound = requireOrSkip('certbot', 'apt-get install certbot');
const legoFound = requireOrSkip('lego', 'apt-get install lego');

interface Run {
  readonly ms: number;
  readonly output: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv, server: CertmintProcess): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: CLIENT_TIMEOUT_MS }, (err, stdout, stderr) => {
      const ms = Math.round(performance.now() - started);
      if (err) {
        reject(new Error(`${file} ${args.join(' ')} failed after ${ms} ms: ${err.message}\n${stdout}\n${stderr}\n--- certmint ---\n${server.output()}`));
        return;
      }
      resolve({ ms, output: `${stdout}\n${stderr}` });
    });
  });
}

describe('clients complete when their validations wait for a slot (maxConcurrentPerAccount 1)', () => {
  let dns: FaultyDnsServer;
  let certmint: CertmintProcess;
  /** When the nameserver was first asked each name: validations of one account run one after the other. */
  const askedAt = new Map<string, number>();

  beforeAll(async () => {
    dns = await startFaultyDnsServer({ silentSuffix: '.silent.test', slowSuffix: '.slow.test', slowMs: SLOW_MS });
    certmint = await startCertmint({
      config: { validation: { dnsResolvers: [dns.address], maxConcurrentPerAccount: 1, answerWithin: '0s', timeout: '5s' } },
    });
  });
  afterAll(async () => {
    await certmint?.stop();
    await dns?.stop();
  });

  /** Records when each name is first asked; resolves with the gaps between them, in order asked. */
  function watch(names: readonly string[]): () => number[] {
    for (const name of names) void dns.askedFor(name).then(() => askedAt.set(name, performance.now()));
    return () => {
      const times = names.map((n) => askedAt.get(n)!).sort((a, b) => a - b);
      return times.slice(1).map((t, i) => Math.round(t - times[i]!));
    };
  }

  it.skipIf(!certbotFound)('certbot', async () => {
    const names = ['a.certbot.slow.test', 'b.certbot.slow.test', 'c.certbot.slow.test'];
    const gaps = watch(names);
    const dir = path.join(certmint.tempDir, 'certbot');
    const r = await run(
      'certbot',
      [
        'certonly', '--standalone', '--non-interactive', '--agree-tos', '--register-unsafely-without-email',
        '--server', certmint.directoryUrl,
        ...names.flatMap((n) => ['-d', n]),
        '--http-01-port', String(certmint.http01Port), '--http-01-address', '127.0.0.1',
        '--config-dir', path.join(dir, 'config'), '--work-dir', path.join(dir, 'work'), '--logs-dir', path.join(dir, 'logs'),
      ],
      { ...process.env, REQUESTS_CA_BUNDLE: certmint.rootFile },
      certmint,
    );
    console.log(`certbot, validations queued: ${r.ms} ms; gaps between lookups ${gaps().join(', ')} ms`);
    expect(r.output).toContain('Successfully received certificate');
    // One at a time: each lookup began after the one before was answered.
    for (const gap of gaps()) expect(gap).toBeGreaterThanOrEqual(SLOW_MS * 0.9);
  });

  it.skipIf(!legoFound)('lego', async () => {
    const names = ['a.lego.slow.test', 'b.lego.slow.test', 'c.lego.slow.test'];
    const r = await run(
      'lego',
      [
        '--server', certmint.directoryUrl, '--email', 'ops@example.internal', '--accept-tos',
        ...names.flatMap((n) => ['--domains', n]),
        '--http', '--http.port', `127.0.0.1:${certmint.http01Port}`,
        '--path', path.join(certmint.tempDir, 'lego'), 'run',
      ],
      { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile },
      certmint,
    );
    console.log(`lego, validations answered processing: ${r.ms} ms`);
    const crt = await readFile(path.join(certmint.tempDir, 'lego', 'certificates', `${names[0]}.crt`), 'utf8');
    expect(crt).toContain('-----BEGIN CERTIFICATE-----');
  });

  it.skipIf(!acmegoFound)('golang.org/x/crypto/acme (Accept every challenge, then WaitAuthorization)', async () => {
    const names = ['a.go.slow.test', 'b.go.slow.test', 'c.go.slow.test'];
    const gaps = watch(names);
    const r = await run(
      acmego!,
      [
        '-directory', certmint.directoryUrl, '-ca-bundle', certmint.rootFile,
        '-http01-listen', `127.0.0.1:${certmint.http01Port}`, '-tls-alpn01-listen', `127.0.0.1:${certmint.tlsAlpn01Port}`,
        '-mode', 'single', '-names', names.join(','), '-out', path.join(certmint.tempDir, 'acmego'),
      ],
      process.env,
      certmint,
    );
    console.log(`acmego, validations queued: ${r.ms} ms; gaps between lookups ${gaps().join(', ')} ms`);
    const result = JSON.parse(r.output.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}') as { ok?: boolean; validated_by?: Record<string, string> };
    expect(result.ok).toBe(true);
    expect(Object.keys(result.validated_by ?? {}).sort()).toEqual(names);
    for (const gap of gaps()) expect(gap).toBeGreaterThanOrEqual(SLOW_MS * 0.9);
  });
});
