import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArchiveError } from './backup-archive.js';

/** The first entry of every backup archive: what it holds, and the SHA-256 of each file. */
export interface BackupManifest {
  readonly format: 'certmint-backup';
  readonly formatVersion: 1;
  readonly certmintVersion: string;
  readonly createdAt: string;
  readonly ledgerSchemaVersion: number;
  /** Certificates in the ledger copy at the moment of the backup. */
  readonly certificates: number;
  readonly files: readonly ManifestFile[];
}

export interface ManifestFile {
  /** Relative to the data dir, e.g. `ledger.sqlite3`, `ca/root.key.pem`. */
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** Octal, e.g. "0600". */
  readonly mode: string;
}

export const MANIFEST_NAME = 'MANIFEST.json';
export const LEDGER_NAME = 'ledger.sqlite3';
/** The directories of the data dir a backup holds (tls/ is left out: certmint serve re-creates it). */
export const BACKED_UP_DIRS = ['ca', 'crl'] as const;
/** A manifest is a few KB; anything far larger is not one. */
export const MAX_MANIFEST_BYTES = 1 << 20;

/** package.json at the package root, both from src/cli (tests) and dist/cli (built). */
export function certmintVersion(): string {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

export const octalMode = (mode: number): string => (mode & 0o7777).toString(8).padStart(4, '0');

/** Whether `name` may be in a backup: the ledger, or a file under one of BACKED_UP_DIRS. */
export function isBackedUpPath(name: string): boolean {
  return name === LEDGER_NAME || BACKED_UP_DIRS.some((d) => name === d || name.startsWith(`${d}/`));
}

/** Parses and checks MANIFEST.json; @throws ArchiveError naming what is wrong. */
export function parseManifest(text: string): BackupManifest {
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw new ArchiveError(`${MANIFEST_NAME} is not JSON: the archive is corrupt`);
  }
  if (m.format !== 'certmint-backup') throw new ArchiveError(`${MANIFEST_NAME} is not a certmint backup manifest`);
  if (m.formatVersion !== 1) throw new ArchiveError(`backup format version ${String(m.formatVersion)} is not one this certmint reads (1)`);
  const fileOk = (f: Partial<ManifestFile>): boolean =>
    typeof f.path === 'string' &&
    isBackedUpPath(f.path) &&
    Number.isSafeInteger(f.size) &&
    (f.size ?? -1) >= 0 &&
    typeof f.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(f.sha256) &&
    typeof f.mode === 'string' &&
    /^0[0-7]{3}$/.test(f.mode);
  if (
    typeof m.certmintVersion !== 'string' ||
    typeof m.createdAt !== 'string' ||
    !Number.isSafeInteger(m.ledgerSchemaVersion) ||
    !Number.isSafeInteger(m.certificates) ||
    !Array.isArray(m.files) ||
    !m.files.every(fileOk)
  ) {
    throw new ArchiveError(`${MANIFEST_NAME} is malformed: the archive is corrupt`);
  }
  const paths = new Set(m.files.map((f) => f.path));
  if (paths.size !== m.files.length) throw new ArchiveError(`${MANIFEST_NAME} lists a file twice`);
  if (!paths.has(LEDGER_NAME)) throw new ArchiveError(`${MANIFEST_NAME} lists no ${LEDGER_NAME}`);
  if (!paths.has('ca/root.pem')) throw new ArchiveError(`${MANIFEST_NAME} lists no ca/root.pem`);
  return m as BackupManifest;
}
