import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuiltCli, runCli } from '../../test/support/cli.js';
import { splitPem } from '../../test/support/issued-certificate.js';

// certmint ca sign-subordinate / issue-istio-ca / subordinates and revoke, through the built CLI,
// checked the way Vault's and istiod's users would: OpenSSL makes the CSR, plays the subordinate CA
// (signs leaves with its key) and verifies the chains (-x509_strict) and the root's CRL.
let dir: string;
const certmint = (args: string[]) => runCli(args, { CERTMINT_DATA_DIR: path.join(dir, 'data'), CERTMINT_SERVER_BASE_URL: 'https://acme.test:8443' });
const at = (...parts: string[]) => path.join(dir, ...parts);

function openssl(args: string[], input?: string): { code: number; out: string } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', input, timeout: 20_000 });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

function mustOpenssl(args: string[]): string {
  const r = openssl(args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.out}`);
  return r.out;
}

/** A leaf signed with the CA's key by OpenSSL, as Vault or istiod would sign it; returns its file. */
function leafUnder(name: string, caCert: string, caKey: string, san: string): string {
  mustOpenssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
  writeFileSync(
    at(`${name}.ext`),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n` +
      `subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\nsubjectAltName=${san}\n`,
  );
  mustOpenssl(['x509', '-req', '-in', `${name}.csr`, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', '30', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  return at(`${name}.pem`);
}

/** A one-line refusal: exit 1, one line on stderr, nothing on stdout. */
function expectOneLine(r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^certmint: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
}

async function subordinates(): Promise<{ serial: string; label: string; kind: string; status: string; permitted: string[] }[]> {
  const r = await certmint(['ca', 'subordinates', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { serial: string; label: string; kind: string; status: string; permitted: string[] }[];
}

beforeAll(async () => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-subordinates-'));
  expect((await certmint(['ca', 'init'])).code).toBe(0);
  expect((await certmint(['crl', 'generate', '--root'])).code).toBe(0);
}, 60_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('certmint ca sign-subordinate (a Vault intermediate)', () => {
  it('signs an OpenSSL CA CSR; leaves under it verify to the root; after certmint revoke the root CRL rejects them', { timeout: 60_000 }, async () => {
    // What `vault write pki_int/intermediate/generate/internal` sends: a CA request with basicConstraints.
    mustOpenssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'vault.key', '-subj', '/CN=Vault Intermediate',
      '-addext', 'basicConstraints=critical,CA:true', '-out', 'vault.csr']);
    const signed = await certmint(['ca', 'sign-subordinate', '--csr', at('vault.csr'), '--label', 'vault-prod', '--permit', 'example.internal,10.0.0.0/8', '--validity', '180d']);
    expect(signed.code).toBe(0);
    const [caCert, root] = splitPem(signed.stdout);
    expect(splitPem(signed.stdout)).toHaveLength(2);
    expect(root).toBe(readFileSync(at('data', 'ca', 'root.pem'), 'utf8'));
    writeFileSync(at('vault.pem'), caCert!);
    const text = mustOpenssl(['x509', '-in', 'vault.pem', '-noout', '-text']);
    expect(text).toContain('CA:TRUE, pathlen:0');
    expect(text).toMatch(/Name Constraints: critical\s+Permitted:\s+DNS:example.internal\s+IP:10.0.0.0\/255.0.0.0/);
    expect(text).toContain('URI:https://acme.test:8443/crl/root');

    const leaf = leafUnder('app', at('vault.pem'), at('vault.key'), 'DNS:app.example.internal');
    const strict = ['verify', '-x509_strict', '-CAfile', at('data', 'ca', 'root.pem'), '-untrusted', at('vault.pem')];
    expect(openssl([...strict, leaf]).code).toBe(0);
    // The constraint is effective: a name outside it does not verify.
    const outside = openssl([...strict, leafUnder('evil', at('vault.pem'), at('vault.key'), 'DNS:evil.test')]);
    expect(outside.code).not.toBe(0);
    expect(outside.out).toMatch(/permitted subtree violation/);

    // -crl_check_all wants every issuer's CRL: the root's from certmint, Vault's own (empty).
    writeFileSync(at('index.txt'), '');
    writeFileSync(at('crlnumber'), '01\n');
    writeFileSync(at('vault-ca.cnf'), `[ca]\ndefault_ca = vault\n[vault]\ndatabase = ${at('index.txt')}\ncrlnumber = ${at('crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 30\n`);
    mustOpenssl(['ca', '-config', 'vault-ca.cnf', '-gencrl', '-keyfile', 'vault.key', '-cert', 'vault.pem', '-out', 'vault.crl']);
    const withCrls = [...strict, '-crl_check_all', '-CRLfile', at('data', 'crl', 'root.crl.pem'), '-CRLfile', at('vault.crl'), leaf];
    expect(openssl(withCrls).out).toContain('OK');

    const serial = (await subordinates()).find((s) => s.label === 'vault-prod')!.serial;
    const revoked = await certmint(['revoke', serial, '--reason', 'keyCompromise']);
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked subordinate CA ${serial}`);
    expect(revoked.stdout).toContain('published CRL number');
    const rejected = openssl(withCrls);
    expect(rejected.code).not.toBe(0);
    expect(rejected.out).toMatch(/certificate revoked/);
    expect((await subordinates()).find((s) => s.serial === serial)!.status).toBe('revoked');
    const again = await certmint(['revoke', serial, '--reason', 'keyCompromise']);
    expectOneLine(again, /revoked already/);

    const audit = await certmint(['audit', '--subject', serial, '--json']);
    expect(audit.stdout).toContain('"subordinate-issue"');
    expect(audit.stdout).toContain('"subordinate-revoke"');
  });

  it("refuses bad input (broken signature, certmint's key, weak key, non-CIDR range, validity past the root, trust domains) with one line and writes nothing", { timeout: 60_000 }, async () => {
    const before = await subordinates();
    mustOpenssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'b.key', '-subj', '/CN=Broken', '-outform', 'DER', '-out', 'b.der']);
    const der = readFileSync(at('b.der'));
    der[der.length - 5] = der[der.length - 5]! ^ 0xff; // inside the signature
    writeFileSync(at('broken.csr'), `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`);
    const out = at('never.pem');
    expectOneLine(await certmint(['ca', 'sign-subordinate', '--csr', at('broken.csr'), '--label', 'x', '--out', out]), /signature does not verify/);

    // certmint's own intermediate key in a CA request.
    mustOpenssl(['req', '-new', '-key', at('data', 'ca', 'intermediate.key.pem'), '-subj', '/CN=Sneaky', '-out', 'reuse.csr']);
    expectOneLine(await certmint(['ca', 'sign-subordinate', '--csr', at('reuse.csr'), '--label', 'x', '--out', out]), /key of certmint's CA certificate .*Intermediate/);

    mustOpenssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ok.key', '-subj', '/CN=Fine', '-out', 'ok.csr']);
    expectOneLine(await certmint(['ca', 'sign-subordinate', '--csr', at('ok.csr'), '--label', 'x', '--permit', '10.0.0.0-10.0.0.255', '--out', out]), /not an IP range in CIDR notation/);
    expectOneLine(await certmint(['ca', 'sign-subordinate', '--csr', at('ok.csr'), '--label', 'x', '--validity', '20y', '--out', out]), /after the root CA's notAfter \d{4}-/);

    mustOpenssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'weak.key', '-subj', '/CN=Weak', '-out', 'weak.csr']);
    expectOneLine(await certmint(['ca', 'sign-subordinate', '--csr', at('weak.csr'), '--label', 'x', '--out', out]), /RSA key of 1024 bits is too small/);

    for (const [domain, why] of [['cluster.local/ns/default', /has a path/], ['*.cluster.local', /has a wildcard/], ['spiffe://cluster.local', /has a scheme/]] as const) {
      expectOneLine(await certmint(['ca', 'issue-istio-ca', '--trust-domain', domain, '--out', at('istio-bad')]), why);
    }
    expect(existsSync(at('istio-bad'))).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(await subordinates()).toEqual(before);
  });

  it('refuses without the root key, naming the file, and signs nothing', { timeout: 60_000 }, async () => {
    const before = await subordinates();
    mustOpenssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'nokey.key', '-subj', '/CN=No Root Key', '-out', 'nokey.csr']);
    const key = at('data', 'ca', 'root.key.pem');
    renameSync(key, at('root.key.pem.away'));
    try {
      const r = await certmint(['ca', 'sign-subordinate', '--csr', at('nokey.csr'), '--label', 'offline', '--out', at('never.pem')]);
      expectOneLine(r, /cannot sign a subordinate CA: it needs the private key of the root CA.*root\.key\.pem/);
      expectOneLine(await certmint(['ca', 'issue-istio-ca', '--trust-domain', 'cluster.local', '--out', at('istio-offline')]), /cannot issue an Istio CA/);
    } finally {
      renameSync(at('root.key.pem.away'), key);
    }
    expect(existsSync(at('never.pem'))).toBe(false);
    expect(existsSync(at('istio-offline'))).toBe(false);
    expect(await subordinates()).toEqual(before);
  });
});

describe('certmint revoke of a subordinate with ca.offlineRoot', () => {
  it('records the revocation and says where to sign the root CRL; crl generate --root there lists it', { timeout: 60_000 }, async () => {
    mustOpenssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'off.key', '-subj', '/CN=Offline Revoked', '-out', 'off.csr']);
    expect((await certmint(['ca', 'sign-subordinate', '--csr', at('off.csr'), '--label', 'offline-revoked', '--out', at('off.pem')])).code).toBe(0);
    const serial = (await subordinates()).find((s) => s.label === 'offline-revoked')!.serial;
    const crlBefore = readFileSync(at('data', 'crl', 'root.crl'));
    const offline = { CERTMINT_DATA_DIR: at('data'), CERTMINT_SERVER_BASE_URL: 'https://acme.test:8443', CERTMINT_CA_OFFLINE_ROOT: 'true' };
    const r = await runCli(['revoke', serial, '--reason', 'superseded'], offline);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('run certmint crl generate --root where the key is');
    expect((await subordinates()).find((s) => s.serial === serial)!.status).toBe('revoked');
    // Nothing signed here: the root's CRL file is the one before.
    expect(readFileSync(at('data', 'crl', 'root.crl')).equals(crlBefore)).toBe(true);
    expect((await runCli(['crl', 'generate', '--root'], offline)).code).toBe(0);
    expect(mustOpenssl(['crl', '-inform', 'DER', '-in', at('data', 'crl', 'root.crl'), '-noout', '-text']).toLowerCase()).toContain(serial);
  });
});

describe('certmint ca issue-istio-ca', () => {
  it("writes istiod's plug-in files; a workload certificate in the trust domain verifies, one outside it does not", { timeout: 60_000 }, async () => {
    const out = at('istio', 'cacerts');
    const r = await certmint(['ca', 'issue-istio-ca', '--trust-domain', 'cluster.local', '--out', out, '--kubernetes-secret']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kubectl create secret generic cacerts -n istio-system');
    for (const f of ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem']) expect(r.stdout).toContain(`--from-file=${path.join(out, f)}`);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(out, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(out, 'cacerts-secret.yaml')).mode & 0o777).toBe(0o600);
    for (const f of ['ca-cert.pem', 'root-cert.pem', 'cert-chain.pem']) expect(statSync(path.join(out, f)).mode & 0o777).toBe(0o644);

    const caCert = readFileSync(path.join(out, 'ca-cert.pem'), 'utf8');
    const root = readFileSync(path.join(out, 'root-cert.pem'), 'utf8');
    expect(root).toBe(readFileSync(at('data', 'ca', 'root.pem'), 'utf8'));
    // The chain: the plug-in CA then the root, each once.
    expect(readFileSync(path.join(out, 'cert-chain.pem'), 'utf8')).toBe(caCert + root);
    const yaml = readFileSync(path.join(out, 'cacerts-secret.yaml'), 'utf8');
    expect(yaml).toContain('name: cacerts\n  namespace: istio-system');
    expect(yaml).toContain(`  ca-cert.pem: ${Buffer.from(caCert).toString('base64')}`);
    const text = mustOpenssl(['x509', '-in', path.join(out, 'ca-cert.pem'), '-noout', '-text']);
    expect(text).toContain('CA:TRUE, pathlen:0');
    expect(text).toMatch(/Permitted:\s+URI:cluster.local/);

    // istiod, played by OpenSSL: workload certificates signed with ca-key.pem.
    const verify = (leaf: string) =>
      openssl(['verify', '-x509_strict', '-CAfile', path.join(out, 'root-cert.pem'), '-untrusted', path.join(out, 'cert-chain.pem'), leaf]);
    const web = leafUnder('web', path.join(out, 'ca-cert.pem'), path.join(out, 'ca-key.pem'), 'URI:spiffe://cluster.local/ns/default/sa/web');
    expect(verify(web).out).toContain('OK');
    const other = verify(leafUnder('other', path.join(out, 'ca-cert.pem'), path.join(out, 'ca-key.pem'), 'URI:spiffe://other.domain/ns/default/sa/web'));
    expect(other.code).not.toBe(0);
    expect(other.out).toMatch(/permitted subtree violation/);

    const listed = (await subordinates()).filter((s) => s.kind === 'istio');
    expect(listed).toEqual([expect.objectContaining({ label: 'istio-cluster.local', status: 'valid', permitted: ['uri:cluster.local'] })]);

    // Never over the files of the CA istiod runs on.
    const before = readFileSync(path.join(out, 'ca-key.pem'), 'utf8');
    expectOneLine(await certmint(['ca', 'issue-istio-ca', '--trust-domain', 'cluster.local', '--out', out]), /ca-cert\.pem already exists/);
    expect(readFileSync(path.join(out, 'ca-key.pem'), 'utf8')).toBe(before);
    expect((await subordinates()).filter((s) => s.kind === 'istio')).toHaveLength(1);
  });

  it('ca subordinates lists soonest expiry first, and --expiring-within picks the valid ones ending within it', { timeout: 60_000 }, async () => {
    const soon = await certmint(['ca', 'issue-istio-ca', '--trust-domain', 'mesh.internal', '--validity', '10d', '--out', at('istio-soon')]);
    expect(soon.code).toBe(0);
    const table = await certmint(['ca', 'subordinates']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[1]).toContain('istio-mesh.internal');
    const within = await certmint(['ca', 'subordinates', '--expiring-within', '30d', '--json']);
    expect((JSON.parse(within.stdout) as { label: string }[]).map((s) => s.label)).toEqual(['istio-mesh.internal']);
    expectOneLine(await certmint(['ca', 'subordinates', '--expiring-within', 'soon']), /not a duration/);
  });
});

describe('subordinates after ca rotate-root', () => {
  it('are signed by the newest root, name its CRL and certificate URLs, and land on its CRL', { timeout: 90_000 }, async () => {
    const rotated = path.join(dir, 'rotated');
    const env = { CERTMINT_DATA_DIR: rotated, CERTMINT_SERVER_BASE_URL: 'https://acme.test:8443' };
    expect((await runCli(['ca', 'init'], env)).code).toBe(0);
    expect((await runCli(['ca', 'rotate-root'], env)).code).toBe(0);
    mustOpenssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'rot.key', '-subj', '/CN=After Rotation', '-out', 'rot.csr']);
    const r = await runCli(['ca', 'sign-subordinate', '--csr', at('rot.csr'), '--label', 'after-rotation', '--out', at('rotated.pem')], env);
    expect(r.code).toBe(0);
    const [sub, root] = splitPem(readFileSync(at('rotated.pem'), 'utf8'));
    expect(root).toBe(readFileSync(path.join(rotated, 'ca', 'root-2.pem'), 'utf8'));
    writeFileSync(at('rotated-sub.pem'), sub!);
    const text = mustOpenssl(['x509', '-in', at('rotated-sub.pem'), '-noout', '-text']);
    expect(text).toContain('URI:https://acme.test:8443/crl/root/2');
    expect(text).toContain('CA Issuers - URI:https://acme.test:8443/root/2.der');
    expect(openssl(['verify', '-x509_strict', '-CAfile', path.join(rotated, 'ca', 'root-2.pem'), at('rotated-sub.pem')]).code).toBe(0);

    const serial = /serial\s+([0-9a-f]+)/.exec(r.stderr)![1]!;
    const revoked = await runCli(['revoke', serial, '--reason', 'cessationOfOperation'], env);
    expect(revoked.stdout).toContain("it goes on root 2's CRL");
    expect(revoked.stdout).toContain('of the root-2');
    expect(mustOpenssl(['crl', '-inform', 'DER', '-in', path.join(rotated, 'crl', 'root-2.crl'), '-noout', '-text']).toLowerCase()).toContain(serial);
  });
});
