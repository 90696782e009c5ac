import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { CERTMINT_MAIN, startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireOrSkip } from '../support/clients.js';
import { dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { freePort } from '../support/ports.js';
import { parsePrometheusText } from '../support/prometheus-text.js';

// Pre-authorized policies (docs/access.md#pre-authorized-policies) as a workload that nothing can
// reach uses them: lego with an EAB key of a `preAuthorized` policy, and NOTHING listening on the
// ports certmint would validate http-01 and tls-alpn-01 on. lego's own http-01 solver listens on
// another free port, so a challenge certmint did try could never succeed: the certificate comes
// only if no challenge was needed.

const legoAvailable = requireOrSkip('lego', 'apt-get install lego');
const CLIENT_TIMEOUT_MS = 90_000;

interface ClientRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe.skipIf(!legoAvailable)('pre-authorized policy: lego gets a certificate with no inbound port open', () => {
  let certmint: CertmintProcess;
  /** Where lego's http-01 solver listens: a port certmint never connects to. */
  let legoPort: number;
  let eab: { kid: string; hmacKey: string };

  beforeAll(async () => {
    certmint = await startCertmint({
      config: {
        eab: { required: true },
        policies: { ci: { allow: ['*.ci.test'], deny: ['secret.ci.test'], preAuthorized: true, maxLifetime: '1d' } },
      },
    });
    legoPort = await freePort();
    const created = await certmint.cli(['eab', 'create', '--label', 'ci runners', '--policy', 'ci', '--reusable', '--expires', '1d', '--json']);
    expect(created.code, created.stderr).toBe(0);
    eab = JSON.parse(created.stdout) as { kid: string; hmacKey: string };
  }, 120_000);
  afterAll(async () => {
    await certmint?.stop();
  });

  function lego(dir: string, names: readonly string[]): Promise<ClientRun> {
    const args = [
      '--server', certmint.directoryUrl,
      '--email', 'ci@example.internal',
      '--accept-tos',
      ...names.flatMap((name) => ['--domains', name]),
      '--http', '--http.port', `127.0.0.1:${legoPort}`,
      '--path', path.join(certmint.tempDir, dir),
      '--eab', '--kid', eab.kid, '--hmac', eab.hmacKey,
      'run',
    ];
    return new Promise((resolve) => {
      execFile('lego', args, { env: { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile }, timeout: CLIENT_TIMEOUT_MS }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  }
  const report = (run: ClientRun) => `lego exited ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}\n--- certmint ---\n${certmint.output()}`;

  /** The challenges stored for the authorizations of the orders of the certificate's account, read from the ledger file. */
  function ledgerRows<T>(sql: string, ...params: unknown[]): T[] {
    const db = new Database(path.join(certmint.dataDir, 'ledger.sqlite3'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }
  const authorizationsOf = (name: string) =>
    ledgerRows<{ id: string; status: string; preauthorized_eab_kid: string | null; challenges: number }>(
      `SELECT a.id, a.status, a.preauthorized_eab_kid, (SELECT COUNT(*) FROM challenges c WHERE c.authorization_id = a.id) AS challenges
         FROM authorizations a WHERE a.identifier_value = ? ORDER BY a.created_at, a.rowid`,
      name,
    );

  async function preauthorizations(): Promise<number> {
    return parsePrometheusText((await new AcmeWire(certmint.baseUrl, certmint.rootPem).get('/metrics')).body).value('certmint_preauthorizations_total', { policy: 'ci' });
  }

  let serial: string;

  it('gets a certificate for an allowed name in one round, answering no challenge', { timeout: 120_000 }, async () => {
    expect(await preauthorizations()).toBe(0);
    const run = await lego('lego-ci', ['build.ci.test']);
    expect(run.code, report(run)).toBe(0);
    // lego 4.9 logs this for an authorization it finds valid, and solves nothing.
    expect(run.stderr).toContain('[build.ci.test] acme: authorization already valid; skipping challenge');
    expect(run.stderr).not.toMatch(/Trying to solve|Served key authentication|use http-01 solver/);
    const bundleFile = path.join(certmint.tempDir, 'lego-ci', 'certificates', 'build.ci.test.crt');
    const issuerFile = path.join(certmint.tempDir, 'lego-ci', 'certificates', 'build.ci.test.issuer.crt');
    await expect(opensslVerify(certmint.rootFile, bundleFile, issuerFile)).resolves.toMatch(/: OK$/m);
    const leaf = new X509Certificate(splitPem(await readFile(bundleFile, 'utf8'))[0]!);
    expect(dnsNames(leaf)).toEqual(['build.ci.test']);
    serial = leaf.serialNumber.toLowerCase();

    expect(authorizationsOf('build.ci.test')).toEqual([{ id: expect.any(String), status: 'valid', preauthorized_eab_kid: eab.kid, challenges: 0 }]);
    expect(await preauthorizations()).toBe(1);
    const audit = await certmint.cli(['audit', '--action', 'authorize', '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toContain(`"eabKid": "${eab.kid}"`);
  });

  it('certmint certs show says the name was authorized by policy, with the EAB key', async () => {
    const shown = await certmint.cli(['certs', 'show', serial]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`authorizedBy       build.ci.test: policy (EAB key ${eab.kid})`);
    expect((await certmint.showCertificate(serial)).authorizedBy).toEqual([{ identifier: 'build.ci.test', method: 'policy', eabKid: eab.kid }]);
  });

  it('a name outside the allow list gets rejectedIdentifier', { timeout: 120_000 }, async () => {
    const run = await lego('lego-ci', ['build.other.test']);
    expect(run.code, report(run)).not.toBe(0);
    expect(run.stderr).toContain('urn:ietf:params:acme:error:rejectedIdentifier');
    expect(run.stderr).toContain('"build.other.test" is not allowed by policy "ci" (allowed: *.ci.test)');
  });

  it('after certmint eab revoke: no new account binds, and the bound account\'s new order needs a challenge, which fails here', { timeout: 180_000 }, async () => {
    const revoked = await new Promise<{ code: number; stderr: string }>((resolve) => {
      // Key ids may begin with "-": after "--" (as test/e2e/eab.test.ts explains).
      execFile(process.execPath, [CERTMINT_MAIN, 'eab', 'revoke', '--config', path.join(certmint.tempDir, 'certmint.yaml'), '--', eab.kid], { timeout: 30_000 }, (err, _out, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }),
      );
    });
    expect(revoked.code, revoked.stderr).toBe(0);

    const newAccount = await lego('lego-ci-new', ['build.ci.test']);
    expect(newAccount.code, report(newAccount)).not.toBe(0);
    expect(newAccount.stderr).toContain('urn:ietf:params:acme:error:unauthorized');
    expect(newAccount.stderr).toContain(`key ${eab.kid} was revoked`);

    // The existing account (same --path): a pending authorization with challenges; certmint tries
    // http-01 on its validation port, where nothing listens, and the authorization fails.
    const existing = await lego('lego-ci', ['next.ci.test']);
    expect(existing.code, report(existing)).not.toBe(0);
    expect(existing.stderr).not.toContain('authorization already valid');
    expect(existing.stderr).toContain('urn:ietf:params:acme:error:connection');
    const [authz] = authorizationsOf('next.ci.test');
    expect(authz).toMatchObject({ status: 'invalid', preauthorized_eab_kid: null });
    expect(authz!.challenges).toBeGreaterThan(0);
    expect(await preauthorizations()).toBe(1);
  });
});
