import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../support/acme-app.js';
import { goVerify, goVerifyAvailable, opensslVerifyStrict } from '../support/chain-verifiers.js';
import { requireBuiltCli, runCli } from '../support/cli.js';
import { issueCertificate, validateNames } from '../support/issue-flow.js';
import { makeCsr } from '../support/csr.js';
import { splitPem } from '../support/issued-certificate.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { InjectAcmeClient, newAccountKey } from '../support/jws-client.js';

// ca.nameConstraints end to end: the CLI creates a constrained intermediate, the app loads it
// from its file, leaves verify under it in OpenSSL and Go, certificates the intermediate's key
// signs outside the constraints are refused by both (the extension is effective), and newOrder
// refuses what the intermediate may not sign before anything reaches the ledger.
const BASE_URL = 'https://acme.test:8443';
const ERR = 'urn:ietf:params:acme:error:';
const CONSTRAINED = { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'nc.test,127.0.0.0/8', CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: 'secret.nc.test' };

let dir: string;
let app: TestAcmeApp;

const certmint = (args: string[], env: Record<string, string> = {}) =>
  runCli(args, { CERTMINT_DATA_DIR: dir, CERTMINT_SERVER_BASE_URL: BASE_URL, ...CONSTRAINED, ...env });
const file = (name: string, contents: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, contents);
  return p;
};
const caFile = (name: string) => path.join(dir, 'ca', name);

/**
 * A certificate for `san` signed here, with OpenSSL, by the intermediate's own key file: what a
 * thief of that key could make. Only the NameConstraints extension stands in its way.
 */
function signedWithIntermediateKey(name: string, san: string): string {
  const key = path.join(dir, `${name}.key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = file(`${name}.ext`, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n');
  const out = path.join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', '/O=nc test', '-addext', `subjectAltName=${san}`, '-out', csr], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caFile('intermediate.pem'), '-CAkey', caFile('intermediate.key.pem'), '-set_serial', '0x4e43', '-days', '1', '-copy_extensions', 'copy', '-extfile', ext, '-out', out], { stdio: 'pipe' });
  return out;
}

beforeAll(async () => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-nc-e2e-'));
  const init = await certmint(['ca', 'init']);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  // The app is given no constraints: what binds is read from the intermediate's certificate.
  app = await startTestAcmeApp({ dir, baseUrl: BASE_URL });
}, 60_000);
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a name-constrained intermediate', () => {
  it('issues through ACME a leaf that openssl verify -x509_strict and Go x509.Verify accept', { timeout: 60_000 }, async () => {
    expect(app.ca.nameConstraints?.permitted.length).toBe(2);
    const client = new InjectAcmeClient(app.app, app.baseUrl, await newAccountKey());
    await client.register();
    const issued = await issueCertificate(app, client, ['web.nc.test']);
    const [leaf, chain] = splitPem(issued.pem);
    const leafFile = file('web.pem', leaf!);
    const chainFile = file('web-chain.pem', chain!);
    const openssl = await opensslVerifyStrict(caFile('root.pem'), chainFile, leafFile);
    expect(openssl.output).toMatch(/: OK$/);
    expect(openssl.ok).toBe(true);
    if (goVerifyAvailable) expect(await goVerify(caFile('root.pem'), chainFile, leafFile, 'web.nc.test')).toMatchObject({ ok: true });
  });

  it('a certificate the intermediate key signs inside the constraints verifies (the recipe below is sound)', async () => {
    const inside = signedWithIntermediateKey('inside', 'DNS:ok.nc.test,IP:127.0.0.1');
    expect(await opensslVerifyStrict(caFile('root.pem'), caFile('intermediate.pem'), inside)).toMatchObject({ ok: true });
    if (goVerifyAvailable) expect(await goVerify(caFile('root.pem'), caFile('intermediate.pem'), inside, 'ok.nc.test')).toMatchObject({ ok: true });
  });

  it.each([
    ['a name outside the permitted ones', 'DNS:web.other.test', /permitted subtree violation/, /not permitted by any constraint/],
    ['an excluded name', 'DNS:secret.nc.test', /excluded subtree violation/, /excluded by constraint "secret\.nc\.test"/],
    ['an IP address outside the permitted range', 'IP:192.168.1.1', /permitted subtree violation/, /IP address "192\.168\.1\.1" is not permitted/],
  ])('refuses %s signed with the intermediate key, in OpenSSL and in Go', async (name, san, opensslError, goError) => {
    const forged = signedWithIntermediateKey(name.replace(/\W+/g, '-'), san);
    const openssl = await opensslVerifyStrict(caFile('root.pem'), caFile('intermediate.pem'), forged);
    expect(openssl.ok).toBe(false);
    expect(openssl.output).toMatch(opensslError);
    if (goVerifyAvailable) {
      const go = await goVerify(caFile('root.pem'), caFile('intermediate.pem'), forged);
      expect(go.ok).toBe(false);
      expect(go.output).toMatch(goError);
    }
  });

  it('refuses an order outside the constraints with rejectedIdentifier naming the constraint; nothing is written', async () => {
    const client = new InjectAcmeClient(app.app, app.baseUrl, await newAccountKey());
    await client.register();
    const accountId = client.accountUrl!.split('/').pop()!;
    const one = await client.post(`${app.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: 'web.other.test' }] });
    expect(one.statusCode).toBe(400);
    expect(one.json()).toMatchObject({
      type: `${ERR}rejectedIdentifier`,
      detail: `"web.other.test" is outside the permitted name constraints (nc.test) of certmint's intermediate CA`,
      identifier: { type: 'dns', value: 'web.other.test' },
    });

    const ids = [
      { type: 'dns', value: 'fine.nc.test' },
      { type: 'dns', value: 'secret.nc.test' },
      { type: 'dns', value: '*.nc.test' },
      { type: 'ip', value: '192.168.1.1' },
    ];
    const several = await client.post(`${app.baseUrl}/acme/new-order`, { identifiers: ids });
    expect(several.statusCode).toBe(400);
    expect(several.json()).toMatchObject({
      type: `${ERR}rejectedIdentifier`,
      detail: expect.stringContaining('3 identifiers are outside the name constraints'),
      subproblems: [
        { type: `${ERR}rejectedIdentifier`, identifier: ids[1], detail: expect.stringContaining('excluded name constraint secret.nc.test') },
        // A wildcard would cover the excluded name, which verifiers would not catch ("*" is a literal label to them).
        { type: `${ERR}rejectedIdentifier`, identifier: ids[2], detail: expect.stringContaining('excluded name constraint secret.nc.test') },
        { type: `${ERR}rejectedIdentifier`, identifier: ids[3], detail: expect.stringContaining('IP address 192.168.1.1 is outside the permitted name constraints (127.0.0.0/8)') },
      ],
    });
    expect(await app.ledger.listAccountOrderIds(accountId, 100)).toEqual([]);
    const allIds = [{ type: 'dns' as const, value: 'web.other.test' }, ...ids.map((i) => ({ type: i.type as 'dns' | 'ip', value: i.value }))];
    expect(await app.ledger.findReusableAuthorizations(accountId, allIds, app.clock.now())).toEqual([]);
  });

  it('ca status shows the active intermediate\'s constraints, and the configured ones when they differ', async () => {
    const status = await certmint(['ca', 'status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).nameConstraints).toEqual({ active: { permitted: ['nc.test', '127.0.0.0/8'], excluded: ['secret.nc.test'] } });
    const table = await certmint(['ca', 'status']);
    expect(table.stdout).toMatch(/\nname constraints of the active intermediate: permitted: nc\.test, 127\.0\.0\.0\/8; excluded: secret\.nc\.test\n$/);

    const changed = await certmint(['ca', 'status', '--json'], { CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: '' });
    expect(JSON.parse(changed.stdout).nameConstraints).toEqual({
      active: { permitted: ['nc.test', '127.0.0.0/8'], excluded: ['secret.nc.test'] },
      configured: { permitted: ['nc.test', '127.0.0.0/8'], excluded: [] },
    });
    expect((await certmint(['ca', 'status'], { CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: '' })).stdout).toContain(
      'configured (ca.nameConstraints): permitted: nc.test, 127.0.0.0/8; run certmint ca rotate-intermediate to apply them',
    );
  });
});

describe('ca.nameConstraints on the command line', () => {
  let cliDir: string;
  const run = (args: string[], env: Record<string, string>) =>
    runCli(args, { CERTMINT_DATA_DIR: cliDir, CERTMINT_SERVER_BASE_URL: BASE_URL, CERTMINT_SERVER_LISTEN: '127.0.0.1:0', ...env });
  beforeAll(() => {
    cliDir = mkdtempSync(path.join(tmpdir(), 'certmint-nc-cli-'));
  });
  afterAll(() => rmSync(cliDir, { recursive: true, force: true }));

  it.each([
    ['a range that is not CIDR', { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'nc.test,10.0.0.0-10.0.0.255' }, /^certmint: ca\.nameConstraints\.permitted\[1\]: name constraint "10\.0\.0\.0-10\.0\.0\.255" is not an IP range in CIDR notation/],
    ['a wildcard', { CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: '*.secret.nc.test' }, /^certmint: ca\.nameConstraints\.excluded\[0\]: name constraint "\*\.secret\.nc\.test": .*write "secret\.nc\.test" without "\*\."/],
    ['an address without its prefix length', { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'ip:10.0.0.1' }, /^certmint: ca\.nameConstraints\.permitted\[0\]: .*CIDR notation, e\.g\. "10\.0\.0\.1\/32"/],
  ])('refuses %s with one line naming the key, for ca init and serve, writing nothing', async (_, env, message) => {
    for (const args of [['ca', 'init'], ['serve']]) {
      const r = await run(args, env);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(path.join(cliDir, 'ca'))).toBe(false);
      expect(existsSync(path.join(cliDir, 'ledger.sqlite3'))).toBe(false);
    }
  });

  it('serve refuses to start when server.tls.hostnames fall outside the constraints, naming them and the constraint', async () => {
    // First start: the CA it would create carries the configured constraints; nothing is created.
    const first = await run(['serve'], { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'nc.test', CERTMINT_SERVER_TLS_HOSTNAMES: 'acme.nc.test,localhost' });
    expect(first.code).toBe(1);
    expect(first.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(first.stderr).toContain('server.tls.hostnames');
    expect(first.stderr).toContain('"localhost" is outside the permitted name constraints (nc.test)');
    expect(first.stderr).not.toContain('acme.nc.test');
    expect(existsSync(path.join(cliDir, 'ca'))).toBe(false);

    // An existing CA: its intermediate's constraints decide, whatever the config says now.
    expect((await run(['ca', 'init'], { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'nc.test,10.0.0.0/8' })).code).toBe(0);
    const later = await run(['serve'], { CERTMINT_SERVER_TLS_HOSTNAMES: 'acme.nc.test,127.0.0.1' });
    expect(later.code).toBe(1);
    expect(later.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(later.stderr).toContain('IP address 127.0.0.1 is outside the permitted name constraints (10.0.0.0/8)');
  });

  it("an imported intermediate's own constraints are the ones shown and checked", async () => {
    const importDir = path.join(cliDir, 'imported');
    const at = (name: string) => path.join(cliDir, name);
    const env = { CERTMINT_DATA_DIR: importDir };
    execFileSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/O=Corp/CN=Corp Root', '-keyout', at('corp-root.key'), '-out', at('corp-root.pem')], { stdio: 'pipe' });
    expect((await run(['ca', 'csr', '--out', at('certmint.csr')], env)).code).toBe(0);
    writeFileSync(at('ca-ext.cnf'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nnameConstraints=critical,permitted;DNS:corp.internal,excluded;IP:10.66.0.0/255.255.0.0\n');
    execFileSync('openssl', ['x509', '-req', '-in', at('certmint.csr'), '-CA', at('corp-root.pem'), '-CAkey', at('corp-root.key'), '-set_serial', '7', '-days', '20', '-extfile', at('ca-ext.cnf'), '-out', at('imported.pem')], { stdio: 'pipe' });
    expect((await run(['ca', 'import', '--cert', at('imported.pem'), '--chain', at('corp-root.pem')], env)).code).toBe(0);
    // Whatever ca.nameConstraints says (nothing here), the intermediate's extension binds.
    const status = await run(['ca', 'status', '--json'], env);
    expect(JSON.parse(status.stdout).nameConstraints).toEqual({ active: { permitted: ['corp.internal'], excluded: ['10.66.0.0/16'] } });
    const asked = await run(['ca', 'status'], { ...env, CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'corp.internal,10.0.0.0/8' });
    expect(asked.stdout).toContain("configured (ca.nameConstraints): permitted: corp.internal, 10.0.0.0/8; the external root's operator writes them into the intermediate\n");
    const serve = await run(['serve'], { ...env, CERTMINT_SERVER_TLS_HOSTNAMES: 'certmint.corp.internal,10.66.0.1' });
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain('IP address 10.66.0.1 falls under the excluded name constraint 10.66.0.0/16');
  });

  it('rotate-intermediate writes the constraints configured now into the new intermediate', async () => {
    const rotated = await run(['ca', 'rotate-intermediate'], { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'svc.nc.test', CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: '10.9.0.0/16' });
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toContain('  name constraints (critical)  permitted: svc.nc.test; excluded: 10.9.0.0/16\n');
    const text = execFileSync('openssl', ['x509', '-in', path.join(cliDir, 'ca', 'intermediate-2.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toMatch(/X509v3 Name Constraints: critical\s+Permitted:\s+DNS:svc\.nc\.test\s+Excluded:\s+IP:10\.9\.0\.0\/255\.255\.0\.0\n/);
    const status = await run(['ca', 'status', '--json'], { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'svc.nc.test', CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: '10.9.0.0/16' });
    expect(JSON.parse(status.stdout).nameConstraints).toEqual({ active: { permitted: ['svc.nc.test'], excluded: ['10.9.0.0/16'] } });
    // It is the generation that signs from the next start on.
    expect(readFileSync(path.join(cliDir, 'ca', 'active-intermediate'), 'utf8').trim()).toBe('2');
  });
});

describe('certmint serve with a constrained intermediate', () => {
  let server: CertmintProcess | undefined;
  afterAll(async () => server?.stop());

  it('starts with its own hostnames inside the constraints, and warns when ca.nameConstraints differs from the intermediate\'s', { timeout: 90_000 }, async () => {
    server = await startCertmint({ config: { ca: { nameConstraints: { permitted: ['localhost', '127.0.0.0/8'] } } } });
    expect(server.output()).not.toContain('rotate-intermediate');
    // Its HTTPS certificate came from the constrained intermediate and verifies under it.
    const tlsCert = path.join(server.dataDirView, 'tls', 'server.pem');
    const intermediate = path.join(server.dataDirView, 'ca', 'intermediate.pem');
    expect(await opensslVerifyStrict(server.rootFile, intermediate, tlsCert)).toMatchObject({ ok: true });
    if (goVerifyAvailable) expect(await goVerify(server.rootFile, intermediate, tlsCert, 'localhost')).toMatchObject({ ok: true });
    const status = await server.cli(['ca', 'status', '--json']);
    expect(JSON.parse(status.stdout).nameConstraints).toEqual({ active: { permitted: ['localhost', '127.0.0.0/8'], excluded: [] } });

    server = await server.restart(undefined, { env: { CERTMINT_CA_NAME_CONSTRAINTS_EXCLUDED: 'secret.localhost' } });
    expect(server.output()).toContain(
      "ca.nameConstraints (permitted: localhost, 127.0.0.0/8; excluded: secret.localhost) differ from the active intermediate's (permitted: localhost, 127.0.0.0/8), which bind issuance: run certmint ca rotate-intermediate to apply them",
    );
  });
});

describe('an order made before the intermediate was constrained', () => {
  let before: string;
  let t: TestAcmeApp | undefined;
  afterAll(async () => {
    await t?.close();
    rmSync(before, { recursive: true, force: true });
  });

  it('is refused at finalize with rejectedIdentifier once a constrained generation is active; no certificate is written', { timeout: 60_000 }, async () => {
    before = mkdtempSync(path.join(tmpdir(), 'certmint-nc-before-'));
    const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { CERTMINT_DATA_DIR: before, CERTMINT_SERVER_BASE_URL: BASE_URL, ...env });
    expect((await cli(['ca', 'init'])).code).toBe(0);
    t = await startTestAcmeApp({ dir: before, baseUrl: BASE_URL });
    const accountKey = await newAccountKey();
    const client = new InjectAcmeClient(t.app, t.baseUrl, accountKey);
    await client.register();
    const order = await validateNames(t, client, ['web.before.test']);
    await t.close();
    t = undefined;

    expect((await cli(['ca', 'rotate-intermediate'], { CERTMINT_CA_NAME_CONSTRAINTS_PERMITTED: 'nc.test' })).code).toBe(0);
    t = await startTestAcmeApp({ dir: before, baseUrl: BASE_URL });
    const again = new InjectAcmeClient(t.app, t.baseUrl, accountKey);
    await again.register();
    const csr = await makeCsr(['web.before.test']);
    const refused = await again.post(order.finalize, { csr: Buffer.from(csr.der).toString('base64url') });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({
      type: `${ERR}rejectedIdentifier`,
      detail: `"web.before.test" is outside the permitted name constraints (nc.test) of certmint's intermediate CA`,
    });
    const orderId = String(order.finalize).split('/').at(-2)!;
    const stored = await t.ledger.getOrder(orderId);
    expect(stored?.certificateSerial ?? null).toBeNull();
    expect((await t.ledger.liveCertificatesByGeneration(t.clock.now())).size).toBe(0);
  });
});
