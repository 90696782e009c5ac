import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/config.js';
import { isAtomicWriteTemp } from '../../core/atomic-file.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { processClock } from '../fake-clock.js';
import { backupSqliteLedger, LedgerBackupError } from '../../ledger/sqlite/backup.js';
import { ArchiveError, writeArchive, type ArchiveEntry } from '../backup-archive.js';
import {
  BACKED_UP_DIRS,
  certmintVersion,
  LEDGER_NAME,
  MANIFEST_NAME,
  octalMode,
  type BackupManifest,
  type ManifestFile,
} from '../backup-manifest.js';
import { ledgerFile } from '../composition.js';
import { UsageError } from './certs.js';
import { restoreCommand, type RestoreOptions } from './restore.js';

/** `certmint backup` and `certmint restore` (main.ts registers them with this one call). */
export function registerBackupCommands(program: Command): void {
  program
    .command('backup')
    .description('one archive (.tar.gz, mode 0600: it holds the CA private keys) of the ledger, the CA files and the CRLs; safe while certmint serve runs')
    .requiredOption('--out <file>', 'the archive to write (written under a temporary name, then renamed)')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { out: string; config?: string }) => {
      const config = loadConfig(opts.config ? { file: opts.config } : {});
      process.stdout.write(await operatorErrors(() => diskErrors(() => backupCommand(config, opts.out, processClock()), opts.out)));
    });
  program
    .command('restore <archive>')
    .description('restore a certmint backup into a data dir (verifies every SHA-256 of the archive before writing anything); stop certmint serve first')
    .option('--data-dir <dir>', 'the data dir to restore into (default: dataDir of --config)')
    .option(
      '--force',
      'restore into a data dir that is not empty: deletes its ledger.sqlite3 (and -wal/-shm), ca/ (CA keys and certificates, secrets.key), crl/ and tls/, and puts the backup\'s in their place',
    )
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (archive: string, opts: RestoreOptions & { config?: string }) => {
      const dataDir = opts.dataDir ?? (opts.config ? loadConfig({ file: opts.config }).dataDir : undefined);
      if (dataDir === undefined) throw new UsageError('restore needs --data-dir DIR (or --config FILE for its dataDir)');
      process.stdout.write(await operatorErrors(() => restoreCommand(archive, { ...opts, dataDir })));
    });
}

/** Errors an operator can act on get one line (main.ts prints UsageError without its stack). */
async function operatorErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ArchiveError || e instanceof LedgerBackupError) throw new UsageError(e.message);
    // zlib's errors while restore reads the archive.
    const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
    if (code === 'Z_BUF_ERROR') throw new UsageError('the archive ends early (its gzip stream is cut off): it is truncated; nothing was written');
    if (code === 'Z_DATA_ERROR') throw new UsageError(`the archive is corrupt (gzip: ${(e as Error).message}); nothing was written`);
    throw e;
  }
}

/** A full, read-only or failing disk under a backup gets one line (writeArchive has removed its temporary file). */
async function diskErrors<T>(fn: () => Promise<T>, out: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || code === 'EIO') {
      throw new UsageError(`no backup written to ${out}: ${(e as Error).message}`);
    }
    throw e;
  }
}

/** `certmint backup --out FILE`: what it prints. Never prints key material, only file names. */
export async function backupCommand(config: Config, out: string, clock: Clock = systemClock): Promise<string> {
  if (config.ledger.url) throw new UsageError('ledger.url is set: back up that database with its own tools; certmint backup copies the embedded SQLite ledger');
  const source = ledgerFile(config);
  if (!existsSync(source)) throw new UsageError(`no ledger at ${source}: is dataDir right?`);
  const caDir = path.join(config.dataDir, 'ca');
  if (!existsSync(path.join(caDir, 'root.pem'))) throw new UsageError(`no CA in ${caDir}: is dataDir right?`);
  const outFile = path.resolve(out);
  const dataDir = path.resolve(config.dataDir);
  if (outFile === path.resolve(source) || BACKED_UP_DIRS.some((d) => outFile.startsWith(path.join(dataDir, d) + path.sep))) {
    throw new UsageError(`--out ${out} is inside what it backs up; write it elsewhere`);
  }
  if (!existsSync(path.dirname(outFile))) throw new UsageError(`the directory of --out ${out} does not exist`);

  // A duration, not a time of day: monotonic, so a clock step during the backup cannot skew it.
  const started = performance.now();
  const staging = await mkdtemp(path.join(tmpdir(), 'certmint-backup-')); // 0700
  try {
    const ledgerCopy = path.join(staging, LEDGER_NAME);
    // The ledger first, the CA files after: a rotation in between leaves the archive with every
    // generation the ledger names (and one more), never a ledger naming a missing one.
    const ledger = await backupSqliteLedger(source, ledgerCopy);
    const ledgerStat = await stat(ledgerCopy);
    const entries: ArchiveEntry[] = [
      { type: 'file', name: LEDGER_NAME, mode: 0o600, mtime: ledgerStat.mtime, size: ledgerStat.size, source: { path: ledgerCopy } },
    ];
    const files: ManifestFile[] = [{ path: LEDGER_NAME, size: ledgerStat.size, sha256: await sha256OfFile(ledgerCopy), mode: octalMode(0o600) }];
    for (const dir of BACKED_UP_DIRS) {
      for (const entry of await treeEntries(dataDir, dir)) {
        entries.push(entry);
        if (entry.type === 'file' && Buffer.isBuffer(entry.source)) {
          files.push({ path: entry.name, size: entry.size, sha256: sha256(entry.source), mode: octalMode(entry.mode) });
        }
      }
    }
    const createdAt = clock.now();
    const manifest: BackupManifest = {
      format: 'certmint-backup',
      formatVersion: 1,
      certmintVersion: certmintVersion(),
      createdAt: createdAt.toISOString(),
      ledgerSchemaVersion: ledger.schemaVersion,
      certificates: ledger.certificates,
      files,
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    entries.unshift({ type: 'file', name: MANIFEST_NAME, mode: 0o600, mtime: createdAt, size: manifestBytes.length, source: manifestBytes });
    await writeArchive(outFile, entries);
    const size = (await stat(outFile)).size;
    const ms = Math.round(performance.now() - started);
    const caFiles = files.filter((f) => f.path.startsWith('ca/')).length;
    const crlFiles = files.filter((f) => f.path.startsWith('crl/')).length;
    return (
      `wrote ${out} (${size} bytes, mode 0600) in ${ms} ms:\n` +
      `  ledger   schema version ${ledger.schemaVersion}, ${ledger.certificates} certificates\n` +
      `  ca/      ${caFiles} files (private keys included: keep the archive as safe as the CA)\n` +
      `  crl/     ${crlFiles} files\n`
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The directory `rel` of the data dir and everything under it, read into memory (CA files and
 * CRLs are small; reading them once means the hash in the manifest is of the bytes archived).
 * Temporary files of an atomic write in progress (`.…tmp`) are left out.
 */
async function treeEntries(dataDir: string, rel: string): Promise<ArchiveEntry[]> {
  const abs = path.join(dataDir, rel);
  if (!existsSync(abs)) return [];
  const dirStat = await stat(abs);
  const out: ArchiveEntry[] = [{ type: 'directory', name: rel, mode: dirStat.mode & 0o7777, mtime: dirStat.mtime }];
  const names = (await readdir(abs, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const d of names) {
    const name = `${rel}/${d.name}`;
    if (isAtomicWriteTemp(d.name)) continue;
    if (d.isDirectory()) {
      out.push(...(await treeEntries(dataDir, name)));
    } else if (d.isFile()) {
      const file = path.join(dataDir, name);
      const [contents, s] = await Promise.all([readFile(file), stat(file)]);
      out.push({ type: 'file', name, mode: s.mode & 0o7777, mtime: s.mtime, size: contents.length, source: contents });
    }
    // Links, sockets and the like are not part of a certmint data dir: skipped.
  }
  return out;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
