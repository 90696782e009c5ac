import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteLedger } from '../../ledger/sqlite/ledger.js';
import { knownSchemaVersion } from '../../ledger/sqlite/backup.js';
import { writeArchive, type ArchiveEntry } from '../backup-archive.js';
import type { BackupManifest } from '../backup-manifest.js';
import { restoreCommand } from './restore.js';

const mtime = new Date('2026-01-02T03:04:05Z');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// Archives that are well-formed gzip and tar but wrong as backups: each is refused before a
// single file is written (the data dir is not even created).
describe('certmint restore refuses a bad backup and writes nothing', () => {
  let dir: string;
  let ledger: Buffer;
  const root = Buffer.from('-----BEGIN CERTIFICATE-----\nnot parsed before the checks\n-----END CERTIFICATE-----\n');

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'certmint-restore-'));
    const file = path.join(dir, 'source.sqlite3');
    await new SqliteLedger({ file }).close();
    ledger = await readFile(file);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function archiveOf(manifest: Partial<BackupManifest>, files: Record<string, Buffer>): Promise<string> {
    const full: BackupManifest = {
      format: 'certmint-backup',
      formatVersion: 1,
      certmintVersion: '0.1.0',
      createdAt: mtime.toISOString(),
      ledgerSchemaVersion: knownSchemaVersion(),
      certificates: 0,
      files: Object.entries(files).map(([p, b]) => ({ path: p, size: b.length, sha256: sha256(b), mode: '0600' })),
      ...manifest,
    };
    const json = Buffer.from(JSON.stringify(full));
    const entries: ArchiveEntry[] = [
      { type: 'file', name: 'MANIFEST.json', mode: 0o600, mtime, size: json.length, source: json },
      ...Object.entries(files).map(([name, b]): ArchiveEntry => ({ type: 'file', name, mode: 0o600, mtime, size: b.length, source: b })),
    ];
    const out = path.join(dir, 'backup.tar.gz');
    await writeArchive(out, entries);
    return out;
  }

  const target = () => path.join(dir, 'data');

  it('a file whose SHA-256 differs from the manifest', async () => {
    // The manifest has the hash of one root.pem, the archive holds another of the same size.
    const tampered = await archiveOf(
      { files: [{ path: 'ledger.sqlite3', size: ledger.length, sha256: sha256(ledger), mode: '0600' }, { path: 'ca/root.pem', size: root.length, sha256: sha256(root), mode: '0600' }] },
      { 'ledger.sqlite3': ledger, 'ca/root.pem': Buffer.from(root.toString().replace('not', 'NOT')) },
    );
    await expect(restoreCommand(tampered, { dataDir: target() })).rejects.toThrow(/ca\/root\.pem fails its SHA-256 check/);
    expect(existsSync(target())).toBe(false);
  });

  it('a ledger schema newer than this certmint knows', async () => {
    const archive = await archiveOf({ ledgerSchemaVersion: knownSchemaVersion() + 1, certmintVersion: '9.0.0' }, { 'ledger.sqlite3': ledger, 'ca/root.pem': root });
    await expect(restoreCommand(archive, { dataDir: target() })).rejects.toThrow(/schema version \d+, newer than this certmint knows .*certmint 9\.0\.0/);
    expect(existsSync(target())).toBe(false);
  });

  it('a file the manifest lists but the archive lacks, and one the manifest does not list', async () => {
    const lacking = await archiveOf(
      { files: [{ path: 'ledger.sqlite3', size: ledger.length, sha256: sha256(ledger), mode: '0600' }, { path: 'ca/root.pem', size: 1, sha256: sha256(Buffer.from('x')), mode: '0600' }] },
      { 'ledger.sqlite3': ledger },
    );
    await expect(restoreCommand(lacking, { dataDir: target() })).rejects.toThrow(/lacks ca\/root\.pem/);
    const extra = await archiveOf(
      { files: [{ path: 'ledger.sqlite3', size: ledger.length, sha256: sha256(ledger), mode: '0600' }, { path: 'ca/root.pem', size: root.length, sha256: sha256(root), mode: '0600' }] },
      { 'ledger.sqlite3': ledger, 'ca/root.pem': root, 'ca/evil.pem': root },
    );
    await expect(restoreCommand(extra, { dataDir: target() })).rejects.toThrow(/ca\/evil\.pem, which its manifest does not list/);
    expect(existsSync(target())).toBe(false);
  });
});
