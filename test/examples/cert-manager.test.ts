import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseDuration } from '../../src/core/duration.js';
import { requireBuiltCli, runCli } from '../support/cli.js';
import { splitPem } from '../support/issued-certificate.js';

// examples/cert-manager: the manifests parse, carry what cert-manager's ACME issuer requires, and
// refer to each other by the same names. (No cluster here: cert-manager's own validation of the
// ACME issuer, pkg/internal/apis/certmanager/validation/issuer.go, is what these mirror.)

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/cert-manager');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown> } & Record<string, unknown>;

function manifests(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'));
  return docs.map((doc) => {
    expect(doc.errors, `${file}: ${doc.errors.join('; ')}`).toEqual([]);
    return doc.toJS() as Manifest;
  });
}

interface AcmeIssuerSpec {
  server: string;
  caBundle?: string;
  email?: string;
  privateKeySecretRef: { name: string };
  externalAccountBinding?: { keyID: string; keySecretRef: { name: string; key: string } };
  solvers: { http01?: { ingress?: { ingressClassName?: string; class?: string } }; dns01?: unknown }[];
}

describe('examples/cert-manager', () => {
  const [issuer] = manifests('cluster-issuer.yaml');
  const [secret] = manifests('eab-secret.yaml');
  const [certificate] = manifests('certificate.yaml');
  const acme = (issuer!.spec as { acme: AcmeIssuerSpec }).acme;

  it('holds one manifest per file, every YAML file a known kind', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
    expect(files).toEqual(['certificate.yaml', 'cluster-issuer.yaml', 'eab-secret.yaml']);
    for (const file of files) {
      for (const m of manifests(file)) {
        expect(`${m.apiVersion} ${m.kind}`).toMatch(/^(cert-manager\.io\/v1 (ClusterIssuer|Certificate)|v1 Secret)$/);
        expect(m.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }
    }
  });

  it('ClusterIssuer: ACME server is certmint\'s directory over HTTPS, with an account key Secret and an http-01 solver', () => {
    expect(issuer).toMatchObject({ apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer' });
    const server = new URL(acme.server);
    expect(server.protocol).toBe('https:');
    expect(server.pathname).toBe('/directory');
    expect(acme.privateKeySecretRef.name).toMatch(/\S/);
    expect(acme.solvers.length).toBeGreaterThan(0);
    expect(acme.solvers[0]!.http01?.ingress?.ingressClassName).toMatch(/\S/);
  });

  it('ClusterIssuer: caBundle is the placeholder the README\'s step 2 replaces', () => {
    expect(acme.caBundle).toBe('REPLACE_WITH_BASE64_OF_ROOTS_PEM');
  });

  // The shipped file always holds the placeholder, so the bundle checks run on a copy filled as
  // README step 2 fills it: the base64 (base64 -w0) of a real certmint CA's root.pem.
  it('ClusterIssuer: filled as README step 2 says, caBundle is base64 of the PEM of certmint\'s root', async () => {
    requireBuiltCli();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'certmint-cert-manager-'));
    try {
      const init = await runCli(['ca', 'init'], { CERTMINT_DATA_DIR: dataDir });
      expect(init.code, init.stderr).toBe(0);
      const root = path.join(dataDir, 'ca', 'root.pem');
      const base64 = spawnSync('bash', ['-euo', 'pipefail', '-c', 'cat "$1" | base64 -w0', 'bash', root], { encoding: 'utf8' });
      expect(base64.status, base64.stderr).toBe(0);
      const filled = readFileSync(path.join(DIR, 'cluster-issuer.yaml'), 'utf8').replace('REPLACE_WITH_BASE64_OF_ROOTS_PEM', base64.stdout);
      const [doc] = parseAllDocuments(filled);
      expect(doc!.errors).toEqual([]);
      const caBundle = (doc!.toJS() as { spec: { acme: AcmeIssuerSpec } }).spec.acme.caBundle!;
      const blocks = splitPem(Buffer.from(caBundle, 'base64').toString('utf8'));
      expect(blocks).toHaveLength(1);
      for (const block of blocks) expect(new X509Certificate(block).ca).toBe(true);
      expect(new X509Certificate(blocks[0]!).fingerprint256).toBe(new X509Certificate(readFileSync(root)).fingerprint256);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('EAB: keyID plus a keySecretRef that names the Secret and key eab-secret.yaml defines, in cert-manager\'s namespace', () => {
    const eab = acme.externalAccountBinding!;
    expect(eab.keyID).toMatch(/\S/);
    expect(eab).not.toHaveProperty('keyAlgorithm'); // deprecated in cert-manager; HS256 is what certmint takes
    expect(secret).toMatchObject({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque' });
    expect(secret!.metadata).toEqual({ name: eab.keySecretRef.name, namespace: 'cert-manager' });
    expect(Object.keys(secret!.stringData as Record<string, string>)).toEqual([eab.keySecretRef.key]);
  });

  it('Certificate: issued by the ClusterIssuer into a Secret, renewed with a third of its 45 days left', () => {
    expect(certificate).toMatchObject({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      spec: { issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: issuer!.metadata.name } },
    });
    const spec = certificate!.spec as { secretName: string; dnsNames: string[]; duration: string; renewBefore: string };
    expect(spec.secretName).toMatch(/\S/);
    expect(spec.dnsNames.length).toBeGreaterThan(0);
    expect(parseDuration(spec.duration)).toBe(parseDuration('45d'));
    expect(parseDuration(spec.renewBefore)).toBe(parseDuration('15d'));
  });

  it('README says where every value comes from', () => {
    const readme = readFileSync(path.join(DIR, 'README.md'), 'utf8');
    for (const needle of [
      'cluster-issuer.yaml', 'eab-secret.yaml', 'certificate.yaml',
      'certmint eab create --label cert-manager --json', '/roots.pem', 'base64 -w0', '/data/ca/root.pem',
      'golang.org/x/crypto/acme', 'keyID', 'hmacKey', 'CERTMINT_SERVER_BASE_URL',
    ]) {
      expect(readme, needle).toContain(needle);
    }
    // Every REPLACE_ placeholder in the manifests is one the README's steps fill in.
    const placeholders = ['cluster-issuer.yaml', 'eab-secret.yaml'].flatMap((f) => readFileSync(path.join(DIR, f), 'utf8').match(/REPLACE_[A-Z0-9_]+/g) ?? []);
    expect(placeholders.sort()).toEqual(['REPLACE_WITH_BASE64_OF_ROOTS_PEM', 'REPLACE_WITH_EAB_HMAC_KEY', 'REPLACE_WITH_EAB_KID']);
  });
});
