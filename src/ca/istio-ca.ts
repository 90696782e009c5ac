// certmint ca issue-istio-ca: a plug-in CA for istiod (Istio's "cacerts" secret), constrained to one
// SPIFFE trust domain and signed by certmint's newest root.
// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { certificatePemOf } from './ca-certificates.js';
import { CaError, fileExists, writeNewCaFiles } from './ca-file-io.js';
import type { CaOptions } from './ca-files.js';
import { signSubordinate, type SignedSubordinate } from './subordinate-ca.js';

/** Istio's plug-in CA files (istio.io "Plug in CA Certificates"), in the order the secret lists them. */
export const ISTIO_PLUGIN_FILES = ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem'] as const;

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A SPIFFE trust domain (spiffe.io "SPIFFE-ID" §2.1): a host name, lower case, no scheme, port,
 * path or wildcard. @throws CaError with one line naming what is wrong.
 */
export function checkTrustDomain(input: string): string {
  const t = input.trim();
  const refuse = (why: string) => new CaError(`--trust-domain ${JSON.stringify(input)} ${why}; write the host part only, e.g. cluster.local`);
  if (t === '') throw refuse('is empty');
  if (t.includes('://')) throw refuse('has a scheme');
  if (t.includes('*')) throw refuse('has a wildcard (a trust domain is one name; the constraint covers the paths under it)');
  if (t.includes('/')) throw refuse('has a path');
  if (t.includes(':')) throw refuse('has a port');
  if (t !== t.toLowerCase()) throw refuse('has upper-case letters (SPIFFE trust domains are lower case)');
  if (t.length > 255 || !t.split('.').every((l) => DNS_LABEL.test(l))) throw refuse('is not a host name (letters, digits, hyphens and dots)');
  return t;
}

export interface IstioCa {
  readonly signed: SignedSubordinate;
  readonly trustDomain: string;
  /** PKCS#8 PEM of the new CA key: istiod reads it from ca-key.pem. */
  readonly keyPem: string;
}

/** Refuses an --out DIR that holds any of the four files already (before a key is made or anything signed). */
export async function refuseExistingPluginFiles(dir: string): Promise<void> {
  for (const name of ISTIO_PLUGIN_FILES) {
    const file = path.join(dir, name);
    if (await fileExists(file)) {
      throw new CaError(`${file} already exists; certmint never overwrites it (use a new --out directory, or move the old files away)`);
    }
  }
}

/**
 * A new key (ECDSA P-256, in software: istiod reads its key from a file, so even with the CA keys
 * on a PKCS#11 token this one is not there; the root still signs on the token) and its CA
 * certificate: path length 0 and a URI constraint on the trust domain, so the key signs workload
 * identities of that domain only.
 */
export async function issueIstioCa(o: CaOptions, r: { trustDomain: string; validityMs: number }): Promise<IstioCa> {
  const trustDomain = checkTrustDomain(r.trustDomain);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const signed = await signSubordinate(o, {
    spki,
    subject: new x509.Name([{ O: [o.name] }, { OU: [`Istio ${trustDomain}`] }, { CN: [`${o.name} Istio CA ${trustDomain}`] }]),
    permitted: [`uri:${trustDomain}`],
    excluded: [],
    pathLength: 0,
    validityMs: r.validityMs,
    action: 'issue an Istio CA',
  });
  return { signed, trustDomain, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/**
 * The four plug-in files (and the Secret's YAML when asked), all or none, never over an existing file; DIR created 0700 if missing.
 * cert-chain.pem is the CA certificate then the root, each once (istiod appends nothing).
 */
export async function writeIstioPluginFiles(
  dir: string,
  ca: IstioCa,
  secretYaml?: (files: Readonly<Record<string, string>>) => string,
): Promise<string[]> {
  const caCert = certificatePemOf(ca.signed.certificate);
  const root = certificatePemOf(ca.signed.root);
  const contents: Record<(typeof ISTIO_PLUGIN_FILES)[number], { contents: string; mode: number }> = {
    'ca-cert.pem': { contents: caCert, mode: 0o644 },
    'ca-key.pem': { contents: ca.keyPem, mode: 0o600 },
    'root-cert.pem': { contents: root, mode: 0o644 },
    'cert-chain.pem': { contents: caCert + root, mode: 0o644 },
  };
  const files = ISTIO_PLUGIN_FILES.map((name) => ({ path: path.join(dir, name), ...contents[name] }));
  if (secretYaml) {
    // It holds ca-key.pem (base64 is no protection): the key's mode.
    const yaml = secretYaml(Object.fromEntries(ISTIO_PLUGIN_FILES.map((name) => [name, contents[name].contents])));
    files.push({ path: path.join(dir, 'cacerts-secret.yaml'), contents: yaml, mode: 0o600 });
  }
  await writeNewCaFiles(dir, files);
  return files.map((f) => f.path);
}
