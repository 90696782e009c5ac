import { createHash, X509Certificate, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { intermediateFilePaths, readActiveGeneration } from '../../ca/intermediate-generations.js';
import { syncDirectory } from '../../core/atomic-file.js';
import { inspectLedgerFile, knownSchemaVersion } from '../../ledger/sqlite/backup.js';
import { ArchiveError, readArchive, type EntryHeader, type EntrySink } from '../backup-archive.js';
import {
  BACKED_UP_DIRS,
  LEDGER_NAME,
  MANIFEST_NAME,
  MAX_MANIFEST_BYTES,
  octalMode,
  parseManifest,
  type BackupManifest,
  type ManifestFile,
} from '../backup-manifest.js';
import { UsageError } from './certs.js';

export interface RestoreOptions {
  readonly dataDir?: string;
  readonly force?: boolean;
}

/** What --force deletes from a data dir before the backup's files take their place. */
const REPLACED = [LEDGER_NAME, `${LEDGER_NAME}-wal`, `${LEDGER_NAME}-shm`, `${LEDGER_NAME}-journal`, ...BACKED_UP_DIRS, 'tls'];

/**
 * `certmint restore ARCHIVE --data-dir DIR`: reads the whole archive once to check it (manifest,
 * every SHA-256, schema version) before writing anything, then unpacks it into a staging dir
 * inside DIR (hashes checked again as written) and renames the ledger and directories into place.
 */
export async function restoreCommand(archive: string, o: RestoreOptions & { readonly dataDir: string }): Promise<string> {
  if (!existsSync(archive)) throw new UsageError(`no archive at ${archive}`);
  const dataDir = path.resolve(o.dataDir);
  const present = existsSync(dataDir) ? await readdir(dataDir) : [];
  if (present.length > 0 && !o.force) {
    throw new UsageError(
      `${dataDir} is not empty (${present.slice(0, 5).join(', ')}${present.length > 5 ? ', …' : ''}); nothing was written. ` +
        'Restore into a new or empty directory, or add --force to replace its ledger, ca/, crl/ and tls/',
    );
  }

  const manifest = await verifyArchive(archive);

  const created = !existsSync(dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const staging = await mkdtemp(path.join(dataDir, '.restore-'));
  try {
    await extractArchive(archive, manifest, staging);
    const ledger = inspectLedgerFile(path.join(staging, LEDGER_NAME));
    if (ledger.schemaVersion !== manifest.ledgerSchemaVersion) {
      throw new ArchiveError(`the ledger in the archive has schema version ${ledger.schemaVersion}, its manifest says ${manifest.ledgerSchemaVersion}`);
    }
    if (o.force) {
      for (const name of REPLACED) await rm(path.join(dataDir, name), { recursive: true, force: true });
    }
    for (const name of [LEDGER_NAME, ...BACKED_UP_DIRS]) {
      if (existsSync(path.join(staging, name))) await rename(path.join(staging, name), path.join(dataDir, name));
    }
    await syncDirectory(dataDir);
    await rm(staging, { recursive: true, force: true });
    return await restoreReport(archive, dataDir, manifest, ledger.certificates);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    if (created) await rmdir(dataDir).catch(() => undefined);
    throw e;
  }
}

/** Pass one: the manifest comes first, every file matches it, nothing is missing or extra. Writes nothing. */
async function verifyArchive(archive: string): Promise<BackupManifest> {
  let manifest: BackupManifest | undefined;
  const seen = new Set<string>();
  await readArchive(archive, (entry) => {
    if (manifest === undefined) {
      if (entry.name !== MANIFEST_NAME || entry.type !== 'file' || entry.size > MAX_MANIFEST_BYTES) {
        throw new ArchiveError(`the archive does not start with ${MANIFEST_NAME}: not a certmint backup`);
      }
      const chunks: Buffer[] = [];
      return {
        write: (chunk) => void chunks.push(Buffer.from(chunk)),
        end: () => {
          manifest = parseManifest(Buffer.concat(chunks).toString('utf8'));
          const known = knownSchemaVersion();
          if (manifest.ledgerSchemaVersion > known) {
            throw new ArchiveError(
              `the backup's ledger has schema version ${manifest.ledgerSchemaVersion}, newer than this certmint knows (${known}): ` +
                `restore it with certmint ${manifest.certmintVersion} or later; nothing was written`,
            );
          }
        },
      };
    }
    return checkedSink(manifest, entry, seen, () => undefined);
  });
  if (manifest === undefined) throw new ArchiveError('the archive is empty: not a certmint backup');
  requireAll(manifest, seen);
  return manifest;
}

/** Pass two: every file written into `staging` with its mode (directories 0700), its hash checked again. */
async function extractArchive(archive: string, manifest: BackupManifest, staging: string): Promise<void> {
  const seen = new Set<string>();
  const dirs: string[] = [];
  await readArchive(archive, (entry) => {
    if (entry.name === MANIFEST_NAME) return undefined;
    const target = path.join(staging, ...entry.name.split('/'));
    if (entry.type === 'directory') {
      checkedSink(manifest, entry, seen, () => undefined);
      dirs.push(target);
      return undefined;
    }
    let handle: Promise<FileHandle> | undefined;
    const file = (): Promise<FileHandle> =>
      (handle ??= mkdir(path.dirname(target), { recursive: true, mode: 0o700 }).then(() => open(target, 'wx', entry.mode & 0o777)));
    const sink = checkedSink(manifest, entry, seen, async () => {
      const h = await file();
      await h.chmod(entry.mode & 0o777); // whatever the umask: keys stay 0600
      await h.sync();
      await h.close();
    });
    return {
      write: async (chunk) => {
        sink.write(chunk);
        await (await file()).write(chunk);
      },
      end: () => sink.end(),
    };
  });
  requireAll(manifest, seen);
  for (const dir of dirs) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await syncDirectory(dir);
  }
}

/** A sink that hashes an entry and, at its end, checks it against the manifest, then runs `done`. */
function checkedSink(manifest: BackupManifest, entry: EntryHeader, seen: Set<string>, done: () => void | Promise<void>): EntrySink {
  if (entry.name === MANIFEST_NAME) throw new ArchiveError(`a second ${MANIFEST_NAME} in the archive`);
  const listed = manifest.files.find((f) => f.path === entry.name);
  if (entry.type === 'directory') {
    if (!BACKED_UP_DIRS.some((d) => entry.name === d || entry.name.startsWith(`${d}/`))) {
      throw new ArchiveError(`the archive holds a directory ${entry.name} that is not part of a certmint backup`);
    }
    return { write: () => undefined, end: () => undefined };
  }
  if (!listed) throw new ArchiveError(`the archive holds ${entry.name}, which its manifest does not list`);
  if (seen.has(entry.name)) throw new ArchiveError(`the archive holds ${entry.name} twice`);
  seen.add(entry.name);
  if (listed.size !== entry.size || listed.mode !== octalMode(entry.mode)) {
    throw new ArchiveError(`${entry.name} in the archive differs from its manifest entry (size or mode): the archive is corrupt`);
  }
  const hash: Hash = createHash('sha256');
  return {
    write: (chunk) => void hash.update(chunk),
    end: async () => {
      if (hash.digest('hex') !== listed.sha256) throw new ArchiveError(`${entry.name} fails its SHA-256 check: the archive is corrupt`);
      await done();
    },
  };
}

function requireAll(manifest: BackupManifest, seen: ReadonlySet<string>): void {
  const missing = manifest.files.filter((f: ManifestFile) => !seen.has(f.path)).map((f) => f.path);
  if (missing.length > 0) throw new ArchiveError(`the archive lacks ${missing.join(', ')}, which its manifest lists: it is incomplete`);
}

async function restoreReport(archive: string, dataDir: string, manifest: BackupManifest, certificates: number): Promise<string> {
  const caDir = path.join(dataDir, 'ca');
  const subject = async (file: string): Promise<string> => new X509Certificate(await readFile(file)).subject.replace(/\n/g, ', ');
  const generation = await readActiveGeneration(caDir);
  const count = (dir: string) => manifest.files.filter((f) => f.path.startsWith(`${dir}/`)).length;
  return [
    `restored ${archive} (made ${manifest.createdAt} by certmint ${manifest.certmintVersion}) into ${dataDir}:`,
    `  ledger        schema version ${manifest.ledgerSchemaVersion}, ${certificates} certificates`,
    `  root          ${await subject(path.join(caDir, 'root.pem'))}`,
    `  intermediate  ${await subject(intermediateFilePaths(caDir, generation).cert)} (generation ${generation}, signs new certificates)`,
    `  files         ${count('ca')} in ca/, ${count('crl')} in crl/`,
    'Start certmint serve with dataDir pointing there; it re-creates tls/ and republishes the CRLs.',
    '',
  ].join('\n');
}
