import { execFile } from 'node:child_process';
import type { X509Certificate } from 'node:crypto';

// What the end-to-end tests check on a certificate a real client received.

/** The PEM blocks of a bundle, in order, each ending in a newline. */
export function splitPem(bundle: string): string[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => `${b}\n`);
}

/**
 * `openssl verify -CAfile <rootFile> -untrusted <untrustedFile> <leafFile>` (openssl reads the first
 * certificate of leafFile): resolves with its output when the chain verifies, rejects with
 * openssl's own words when it does not.
 */
export function opensslVerify(rootFile: string, leafFile: string, untrustedFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'openssl',
      ['verify', '-CAfile', rootFile, '-untrusted', untrustedFile, leafFile],
      { timeout: 10_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`openssl verify failed: ${stdout}${stderr}`)) : resolve(stdout)),
    );
  });
}

/** The DNS names in the subjectAltName, sorted. */
export function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length))
    .sort();
}

export const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
