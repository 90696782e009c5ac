import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { FlattenedSign, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTMINT_MAIN, startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { requireOrSkip } from '../support/clients.js';

// External Account Binding (RFC 8555 §7.3.4) and named access policies, as a user of certbot or
// lego meets them: keys come from `certmint eab create`, refusals arrive as ACME problems.

const certbotAvailable = requireOrSkip('certbot', 'apt-get install certbot');
const legoAvailable = requireOrSkip('lego', 'apt-get install lego');

const CLIENT_TIMEOUT_MS = 90_000;
const DAY_MS = 24 * 60 * 60 * 1000;

interface ClientRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

interface EabKey {
  readonly kid: string;
  readonly hmacKey: string;
}

interface ListedEabKey {
  readonly kid: string;
  readonly label: string;
  readonly policy: string | null;
  readonly reusable: boolean;
  readonly bindings: number;
  readonly state: string;
  readonly [field: string]: unknown;
}

describe.skipIf(!certbotAvailable && !legoAvailable)('external account binding and access policies against certmint', () => {
  let certmint: CertmintProcess;
  /** Every HMAC key handed out, so the listing can be checked for leaks. */
  const issuedKeys: EabKey[] = [];
  /** The state and binding count each key should be listed with once the clients are done. */
  const expectedListing = new Map<string, { state: string; bindings: number; policy: string | null }>();

  beforeAll(async () => {
    certmint = await startCertmint({
      config: {
        eab: { required: true },
        policies: {
          payments: {
            allow: ['*.payments.test'],
            deny: ['admin.payments.test'],
            challenges: ['http-01'],
            maxLifetime: '7d',
          },
        },
      },
    });
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  /** Runs a client to completion (never rejects): the caller asserts on the exit code and output. */
  function runClient(binary: 'certbot' | 'lego', label: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<ClientRun> {
    const started = performance.now();
    return new Promise((resolve) => {
      execFile(binary, args, { env: { ...process.env, ...env }, timeout: CLIENT_TIMEOUT_MS }, (err, stdout, stderr) => {
        const ms = Math.round(performance.now() - started);
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const lastLine = stderr.trim().split('\n').pop() ?? '';
        console.log(`${label}: exit ${code} after ${ms} ms${code === 0 ? '' : `: ${lastLine}`}`);
        resolve({ code, stdout, stderr, ms });
      });
    });
  }

  /** What to print when a client did not do what the test expected. */
  function report(binary: string, run: ClientRun): string {
    return `${binary} exited ${run.code} after ${run.ms} ms\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}\n--- certmint ---\n${certmint.output()}`;
  }

  async function createEabKey(label: string, extra: readonly string[] = []): Promise<EabKey> {
    const created = await certmint.cli(['eab', 'create', '--label', label, ...extra, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as EabKey & Record<string, unknown>;
    expect(key.kid).toMatch(/\S/);
    expect(key.hmacKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    issuedKeys.push({ kid: key.kid, hmacKey: key.hmacKey });
    return key;
  }

  async function listEabKeys(): Promise<{ stdout: string; keys: ListedEabKey[] }> {
    const listed = await certmint.cli(['eab', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    return { stdout: listed.stdout, keys: JSON.parse(listed.stdout) as ListedEabKey[] };
  }

  /**
   * `certmint eab revoke --config <file> -- KID`: key ids are base64url and may begin with "-",
   * which commander reads as an unknown option unless it comes after "--". certmint.cli() appends
   * --config after its arguments (then a third positional), so the CLI is run here directly.
   */
  function revokeEabKey(kid: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const configFile = path.join(certmint.tempDir, 'certmint.yaml');
    return new Promise((resolve) => {
      execFile(process.execPath, [CERTMINT_MAIN, 'eab', 'revoke', '--config', configFile, '--', kid], { timeout: 30_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  }

  async function listedKey(kid: string): Promise<ListedEabKey | undefined> {
    return (await listEabKeys()).keys.find((k) => k.kid === kid);
  }

  it('refuses newAccount without a binding with urn:ietf:params:acme:error:externalAccountRequired', async () => {
    // certbot and lego both stop on the directory's meta before sending newAccount, so this is the
    // request a client that ignores meta.externalAccountRequired would send.
    const directory = JSON.parse((await httpsCall(certmint, 'GET', certmint.directoryUrl)).body) as { newNonce: string; newAccount: string };
    const nonce = (await httpsCall(certmint, 'HEAD', directory.newNonce)).headers['replay-nonce'];
    expect(nonce).toEqual(expect.any(String));
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jws = await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ termsOfServiceAgreed: true })))
      .setProtectedHeader({ alg: 'ES256', jwk: await exportJWK(publicKey), nonce: String(nonce), url: directory.newAccount })
      .sign(privateKey);
    const res = await httpsCall(certmint, 'POST', directory.newAccount, JSON.stringify(jws));
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(res.body) as { status?: number };
    expect(res.status, res.body).toBeGreaterThanOrEqual(400);
    expect(res.status, res.body).toBeLessThan(500);
    expect(problem.status).toBe(res.status);
    expect(problem).toMatchObject({
      type: 'urn:ietf:params:acme:error:externalAccountRequired',
      detail: expect.stringContaining('certmint eab create'),
    });
  });

  describe.skipIf(!certbotAvailable)('certbot', () => {
    function certbot(dir: string, command: readonly string[], extraArgs: readonly string[] = []): Promise<ClientRun> {
      return runClient(
        'certbot',
        `certbot ${command.join(' ')} ${path.basename(dir)}`,
        [
          ...command,
          '--non-interactive', '--agree-tos', '--register-unsafely-without-email',
          '--server', certmint.directoryUrl,
          '--config-dir', path.join(dir, 'config'),
          '--work-dir', path.join(dir, 'work'),
          '--logs-dir', path.join(dir, 'logs'),
          ...extraArgs,
        ],
        { REQUESTS_CA_BUNDLE: certmint.rootFile },
      );
    }

    // certbot 2.1 (Debian 12) crashes with josepy's "can't set attribute" while printing ACME
    // errors, so what happened is read from its own debug log.
    const certbotLog = (dir: string): Promise<string> => readFile(path.join(dir, 'logs', 'letsencrypt.log'), 'utf8');

    it('will not register without --eab-kid: the directory it read says externalAccountRequired', { timeout: 120_000 }, async () => {
      const dir = path.join(certmint.tempDir, 'certbot-no-eab');
      const run = await certbot(dir, ['register']);
      expect(run.code, report('certbot', run)).not.toBe(0);
      const log = await certbotLog(dir);
      // RFC 8555 §7.1.1: certmint advertises the requirement and certbot stops before newAccount,
      // so certmint's own externalAccountRequired problem never reaches it (checked below with a raw JWS).
      expect(log).toMatch(/"externalAccountRequired": ?true/);
      expect(log).toContain('Server requires external account binding. Please use --eab-kid and --eab-hmac-key.');
      expect(log).not.toMatch(/Sending POST request to \S*new-account/);
    });

    it('registers with --eab-kid/--eab-hmac-key and gets a certificate with http-01 (standalone)', { timeout: 180_000 }, async () => {
      const key = await createEabKey('certbot');
      const dir = path.join(certmint.tempDir, 'certbot');
      // Key ids and HMAC keys are base64url and may begin with "-": certbot's argparse then reads
      // "--eab-hmac-key -x…" as a missing value (exit 2), so both go in the --flag=value form.
      const register = await certbot(dir, ['register'], [`--eab-kid=${key.kid}`, `--eab-hmac-key=${key.hmacKey}`]);
      expect(register.code, report('certbot', register)).toBe(0);
      expect(await listedKey(key.kid)).toMatchObject({ bindings: 1, state: 'used' });
      expectedListing.set(key.kid, { state: 'used', bindings: 1, policy: null });

      // certonly reuses the bound account: no EAB flags needed any more.
      const names = ['web.eab-certbot.test', 'api.eab-certbot.test'];
      const run = await certbot(dir, ['certonly', '--standalone'], [
        ...names.flatMap((name) => ['-d', name]),
        '--http-01-port', String(certmint.http01Port),
        '--http-01-address', '127.0.0.1',
      ]);
      expect(run.code, report('certbot', run)).toBe(0);
      const live = (file: string): string => path.join(dir, 'config', 'live', names[0]!, file);
      await expect(opensslVerify(certmint.rootFile, live('cert.pem'), live('chain.pem'))).resolves.toMatch(/: OK$/m);
      expect(dnsNames(new X509Certificate(await readFile(live('cert.pem'), 'utf8')))).toEqual([...names].sort());
    });
  });

  describe.skipIf(!legoAvailable)('lego', () => {
    /** `lego ... run` with http-01 on certmint's http-01 port unless `challenge` says otherwise, its state under `tempDir/<dir>`. */
    function lego(
      dir: string,
      names: readonly string[],
      extraArgs: readonly string[] = [],
      challenge: readonly string[] = ['--http', '--http.port', `127.0.0.1:${certmint.http01Port}`],
    ): Promise<ClientRun> {
      return runClient(
        'lego',
        `lego ${dir} ${names.join(',')}${extraArgs.includes('--eab') ? ' --eab' : ''}`,
        [
          '--server', certmint.directoryUrl,
          '--email', 'ops@example.internal',
          '--accept-tos',
          ...names.flatMap((name) => ['--domains', name]),
          ...challenge,
          '--path', path.join(certmint.tempDir, dir),
          ...extraArgs,
          'run',
        ],
        { LEGO_CA_CERTIFICATES: certmint.rootFile },
      );
    }
    const eabFlags = (key: EabKey): string[] => ['--eab', '--kid', key.kid, '--hmac', key.hmacKey];
    let paymentsKey: EabKey;

    /** The leaf lego saved for `name`, after checking its chain verifies up to certmint's root. */
    async function legoCertificate(dir: string, name: string): Promise<X509Certificate> {
      const bundleFile = path.join(certmint.tempDir, dir, 'certificates', `${name}.crt`);
      const issuerFile = path.join(certmint.tempDir, dir, 'certificates', `${name}.issuer.crt`);
      await expect(opensslVerify(certmint.rootFile, bundleFile, issuerFile)).resolves.toMatch(/: OK$/m);
      return new X509Certificate(splitPem(await readFile(bundleFile, 'utf8'))[0]!);
    }

    it('will not register without --eab: it reads externalAccountRequired from the directory', { timeout: 120_000 }, async () => {
      const run = await lego('lego-no-eab', ['web.eab-lego.test']);
      expect(run.code, report('lego', run)).not.toBe(0);
      expect(run.stderr).toContain('Server requires External Account Binding. Use --eab with --kid and --hmac.');
    });

    it('registers with --eab --kid --hmac and gets a certificate; the single-use key then refuses another account', { timeout: 180_000 }, async () => {
      const key = await createEabKey('lego');
      const run = await lego('lego', ['web.eab-lego.test'], eabFlags(key));
      expect(run.code, report('lego', run)).toBe(0);
      expect(dnsNames(await legoCertificate('lego', 'web.eab-lego.test'))).toEqual(['web.eab-lego.test']);
      expect(await listedKey(key.kid)).toMatchObject({ bindings: 1, state: 'used' });
      expectedListing.set(key.kid, { state: 'used', bindings: 1, policy: null });

      // A fresh --path is a new account key: the key already bound one account.
      const again = await lego('lego-second-account', ['web.eab-lego.test'], eabFlags(key));
      expect(again.code, report('lego', again)).not.toBe(0);
      expect(again.stderr).toContain('urn:ietf:params:acme:error:unauthorized');
      expect(again.stderr).toContain(`key ${key.kid} was already used by another account`);
    });

    it('an account bound with a --policy payments key is refused other names, and gets payments names for at most 7 days', { timeout: 180_000 }, async () => {
      const key = await createEabKey('payments', ['--policy', 'payments']);
      paymentsKey = key;
      const refused = await lego('lego-payments', ['web.other.test'], eabFlags(key));
      expect(refused.code, report('lego', refused)).not.toBe(0);
      expect(refused.stderr).toContain('urn:ietf:params:acme:error:rejectedIdentifier');
      expect(refused.stderr).toContain('"web.other.test" is not allowed by policy "payments" (allowed: *.payments.test)');
      // lego saved the account before ordering: the key is bound even though no certificate came out.
      expect(await listedKey(key.kid)).toMatchObject({ bindings: 1, state: 'used', policy: 'payments' });
      expectedListing.set(key.kid, { state: 'used', bindings: 1, policy: 'payments' });

      // The same --path reuses that account (a second newAccount with this key would be refused).
      const allowed = await lego('lego-payments', ['api.payments.test'], eabFlags(key));
      expect(allowed.code, report('lego', allowed)).toBe(0);
      const leaf = await legoCertificate('lego-payments', 'api.payments.test');
      expect(dnsNames(leaf)).toEqual(['api.payments.test']);
      const lifetimeMs = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
      expect(lifetimeMs).toBeGreaterThan(0);
      expect(lifetimeMs, `policies.payments.maxLifetime is 7d: notBefore ${leaf.validFrom}, notAfter ${leaf.validTo}`).toBeLessThanOrEqual(7 * DAY_MS);
    });

    it('the denied name of the policy is refused even though it matches the allowed pattern', { timeout: 120_000 }, async () => {
      // lego 4.9 exits with "Server requires External Account Binding" whenever the directory says
      // so, even for an account it already has; the flags are needed but no new binding is made.
      const run = await lego('lego-payments', ['admin.payments.test'], eabFlags(paymentsKey));
      expect(run.code, report('lego', run)).not.toBe(0);
      expect(run.stderr).toContain('urn:ietf:params:acme:error:rejectedIdentifier');
      expect(run.stderr).toContain('"admin.payments.test" is denied by policy "payments" (pattern admin.payments.test)');
    });

    it('the policy offers http-01 only: lego with --tls as its only solver gets no certificate', { timeout: 120_000 }, async () => {
      const run = await lego('lego-payments', ['tls.payments.test'], eabFlags(paymentsKey), ['--tls', '--tls.port', `127.0.0.1:${certmint.tlsAlpn01Port}`]);
      expect(run.code, report('lego', run)).not.toBe(0);
      expect(run.stderr).toContain('[tls.payments.test] acme: could not determine solvers');
    });

    it('a --reusable key binds two accounts and stays usable', { timeout: 180_000 }, async () => {
      const key = await createEabKey('shared', ['--reusable']);
      for (const dir of ['lego-shared-1', 'lego-shared-2']) {
        const run = await lego(dir, ['shared.eab-lego.test'], eabFlags(key));
        expect(run.code, report('lego', run)).toBe(0);
      }
      expectedListing.set(key.kid, { state: 'usable', bindings: 2, policy: null });
    });

    it('eab list --json shows each key with its bindings and state and no HMAC key; a revoked key binds no new account', { timeout: 180_000 }, async () => {
      const unused = await createEabKey('unused');
      expectedListing.set(unused.kid, { state: 'usable', bindings: 0, policy: null });

      const { stdout, keys } = await listEabKeys();
      for (const [kid, expected] of expectedListing) {
        expect(keys.find((k) => k.kid === kid), `${kid} in ${stdout}`).toMatchObject(expected);
      }
      expect(keys).toHaveLength(issuedKeys.length);
      for (const { hmacKey } of issuedKeys) expect(stdout).not.toContain(hmacKey);
      for (const k of keys) expect(Object.keys(k)).not.toContain('hmacKey');

      const revoked = await revokeEabKey(unused.kid);
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(revoked.stdout).toContain(unused.kid);
      expect(await listedKey(unused.kid)).toMatchObject({ state: 'revoked', bindings: 0, revokedAt: expect.any(String) });

      const run = await lego('lego-revoked', ['revoked.eab-lego.test'], eabFlags(unused));
      expect(run.code, report('lego', run)).not.toBe(0);
      expect(run.stderr).toContain('urn:ietf:params:acme:error:unauthorized');
      expect(run.stderr).toContain(`key ${unused.kid} was revoked`);
      expect(await listedKey(unused.kid)).toMatchObject({ state: 'revoked', bindings: 0 });
    });
  });
});

interface HttpsAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** One request to the running certmint, trusting only its root; a JWS body goes as application/jose+json. */
function httpsCall(certmint: CertmintProcess, method: 'GET' | 'HEAD' | 'POST', url: string, body?: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca: certmint.rootPem,
        agent: false,
        timeout: 10_000,
        headers: body === undefined ? {} : { 'content-type': 'application/jose+json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.once('error', reject);
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.once('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.once('error', reject);
    req.end(body);
  });
}
