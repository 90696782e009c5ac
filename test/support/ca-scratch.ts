import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { newSerialHex } from '../../src/ca/serial.js';
import type { CertificateAuthority, IssuedLeaf } from '../../src/ca/types.js';
import { pemOf } from './pem.js';

// What the CA's own tests (src/ca/**) share: a scratch directory for the files openssl reads, openssl
// itself, and a leaf issued the way finalize issues one.

const DAY_MS = 86_400_000;

/** A fresh P-256 subject key as DER SubjectPublicKeyInfo, what a CSR would carry. */
export function freshSpki(): Uint8Array {
  return new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
}

/**
 * Issues a leaf for `name` (leaf.example) with a fresh P-256 key, valid from a minute before `now`
 * (so a verifier's clock a little behind still accepts it) for `lifetimeMs` (one day).
 */
export function issueTestLeaf(
  ca: Pick<CertificateAuthority, 'issueLeaf'>,
  o: { readonly name?: string; readonly serialHex?: string; readonly now?: Date; readonly lifetimeMs?: number } = {},
): Promise<IssuedLeaf> {
  const now = (o.now ?? new Date()).getTime();
  return ca.issueLeaf({
    spki: freshSpki(),
    identifiers: [{ type: 'dns', value: o.name ?? 'leaf.example' }],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (o.lifetimeMs ?? DAY_MS)),
    serialHex: o.serialHex ?? newSerialHex(),
  });
}

/** Runs openssl and returns its exit status and everything it printed (it reports on stderr too). */
export function opensslStatus(args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Runs openssl and returns what it printed on stdout; throws (with its stderr) when it fails. */
export function openssl(args: readonly string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe' });
}

/**
 * A leaf of the CA's active intermediate checked by `openssl verify` against the newest root, as a
 * user with the trust bundle would; returns openssl's output (it throws when the chain fails).
 */
export async function verifiedLeaf(ca: Pick<CertificateAuthority, 'issueLeaf' | 'roots'>, dir: string): Promise<string> {
  const leaf = await issueTestLeaf(ca);
  await writeFile(join(dir, 'leaf.pem'), pemOf(leaf.der));
  await writeFile(join(dir, 'chain.pem'), leaf.chainPem);
  await writeFile(join(dir, 'newest-root.pem'), ca.roots.at(-1)!.pem);
  return openssl(['verify', '-CAfile', join(dir, 'newest-root.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')]);
}

/** A test file's scratch directory (made before its tests, removed after them). */
export interface ScratchDir {
  /** The directory; read it inside tests and hooks only. */
  readonly dir: string;
  /** Writes `contents` to a new file named after `name` (numbered, never overwritten) and returns its path. */
  write(name: string, contents: string | Uint8Array): Promise<string>;
}

/** At a test file's top level or inside a describe: a ScratchDir for its tests, named `certmint-<prefix>-…`. */
export function useScratchDir(prefix: string): ScratchDir {
  let dir: string | undefined;
  let files = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `certmint-${prefix}-`));
  });
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  const scratch: ScratchDir = {
    get dir(): string {
      if (dir === undefined) throw new Error('the scratch directory is made in beforeAll: read it inside a test or hook');
      return dir;
    },
    async write(name, contents) {
      files += 1;
      const path = join(scratch.dir, `${files}-${name}`);
      await writeFile(path, contents);
      return path;
    },
  };
  return scratch;
}
