import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildX509Check } from '../interop/go-client.js';
import { requireOrSkipFound } from './clients.js';

const x509check = await buildX509Check();
/** Whether Go's crypto/x509 takes part; false only without `go`, and then CERTMINT_REQUIRE_CLIENTS=1 fails the file. */
export const goX509Available = requireOrSkipFound(x509check !== null, '`go` is not on PATH', 'go (test/interop/x509check)', 'apt-get install golang-go');

/**
 * Parses a certificate (DER) with OpenSSL and with Go's crypto/x509, as the verifiers of the
 * clients certmint serves will; throws naming the error either gives. Returns the subject public
 * key as OpenSSL prints it back (DER), for the caller to compare with the canonical key.
 */
export function parseWithOpensslAndGo(der: Uint8Array): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'certmint-x509check-'));
  try {
    const file = path.join(dir, 'cert.der');
    writeFileSync(file, der);
    const pubkeyPem = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-pubkey'], { stdio: 'pipe' }).toString();
    if (x509check !== null) {
      try {
        execFileSync(x509check, [file], { stdio: 'pipe' });
      } catch (e) {
        throw new Error(`Go's crypto/x509 refuses the certificate: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
      }
    }
    return Buffer.from(pubkeyPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What Go's x509.ParseRevocationList made of one CRL (test/interop/x509check/crl.go). */
export interface GoCrl {
  readonly file: string;
  readonly number: string;
  /** Revoked serials as lowercase hex without leading zeros (big.Int.Text(16)). */
  readonly serials: readonly string[];
  /** The Issuing Distribution Point's critical flag as Go read it; null when the CRL has none. */
  readonly idpCritical: boolean | null;
}

/**
 * Parses each CRL file (DER or PEM) with Go's x509.ParseRevocationList and checks its signature
 * with CheckSignatureFrom against the first certificate of issuerFile, as a Go relying party
 * would; throws with Go's own error for the first CRL it refuses. Callers skip on goX509Available.
 */
export function parseCrlsWithGo(issuerFile: string, crlFiles: readonly string[]): GoCrl[] {
  if (x509check === null) throw new Error('x509check was not built: `go` is not on PATH');
  let out: string;
  try {
    out = execFileSync(x509check, ['-crl-issuer', issuerFile, ...crlFiles], { stdio: 'pipe' }).toString();
  } catch (e) {
    throw new Error(`Go's crypto/x509 refuses the CRL: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
  }
  return out.trim().split('\n').map((line) => JSON.parse(line) as GoCrl);
}

/** A serial (any case, leading zeros or not) the way GoCrl.serials spells it. */
export function goSerial(serialHex: string): string {
  return BigInt(`0x${serialHex}`).toString(16);
}
