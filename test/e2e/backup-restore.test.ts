import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import acme from 'acme-client';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../src/cli/backup-manifest.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireBuiltCli, runCli } from '../support/cli.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { splitPem } from '../support/issued-certificate.js';

const execFileAsync = promisify(execFile);

const WORKERS = 6;
/** Issuances that must have completed before the backup starts, and after it ended. */
const BEFORE = 8;
const AFTER = 4;

interface Issued {
  readonly serial: string;
  readonly chain: readonly string[];
  readonly at: number;
}

/** Full acme-client flows (http-01) against `server` on its own ECDSA account, one at a time. */
async function issueWith(client: acme.Client, responder: Http01Responder, name: string): Promise<Issued> {
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  const [, csr] = await acme.crypto.createCsr({ commonName: name }, key);
  const pem = await client.auto({
    csr,
    termsOfServiceAgreed: true,
    challengePriority: ['http-01'],
    skipChallengeVerification: true, // only certmint's resolver (pebble-challtestsrv) knows the names
    challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
      responder.set(challenge.token, keyAuthorization);
    },
    challengeRemoveFn: async () => {},
  });
  const chain = splitPem(pem);
  return { serial: new X509Certificate(chain[0]!).serialNumber.toLowerCase(), chain, at: performance.now() };
}

async function newClient(server: CertmintProcess): Promise<acme.Client> {
  return new acme.Client({ directoryUrl: server.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256') });
}

/** Every file under `dir` with its mode and SHA-256: a restore that was refused must leave it equal. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(e.parentPath, e.name);
    const s = await stat(file);
    out[path.relative(dir, file)] = e.isFile()
      ? `${(s.mode & 0o777).toString(8)} ${createHash('sha256').update(await readFile(file)).digest('hex')}`
      : `${(s.mode & 0o777).toString(8)} dir`;
  }
  return out;
}

function serialsIn(ledgerFile: string): string[] {
  const db = new Database(ledgerFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT serial FROM certificates').all() as { serial: string }[]).map((r) => r.serial).sort();
  } finally {
    db.close();
  }
}

async function listedSerials(configFile: string): Promise<string[]> {
  const r = await runCli(['certs', 'list', '--json', '--limit', '1000000', '--config', configFile]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { serial: string }[]).map((c) => c.serial).sort();
}

describe('certmint backup under issuance load, and certmint restore', () => {
  let source: CertmintProcess;
  let target: CertmintProcess;
  let responder: Http01Responder;
  let work: string;
  let archive: string;
  let manifest: BackupManifest;
  let completedBefore: Set<string>;
  let sourceChain: readonly string[];

  beforeAll(async () => {
    requireBuiltCli();
    work = await mkdtemp(path.join(tmpdir(), 'certmint-backup-e2e-'));
    source = await startCertmint();
    target = await startCertmint();
    responder = await startHttp01Responder('127.0.0.1', source.http01Port);
    acme.axios.defaults.httpsAgent = new Agent({ ca: source.rootPem });
  });
  afterAll(async () => {
    await responder?.stop();
    await source?.stop();
    await target?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('backs up a running server while certificates are being issued', { timeout: 120_000 }, async () => {
    const completed: Issued[] = [];
    let inFlight = 0;
    let stopping = false;
    const worker = async (w: number): Promise<void> => {
      const client = await newClient(source);
      for (let i = 0; !stopping; i++) {
        inFlight++;
        try {
          completed.push(await issueWith(client, responder, `w${w}-i${i}.backup.test`));
        } finally {
          inFlight--;
        }
      }
    };
    const until = async (ok: () => boolean): Promise<void> => {
      while (!ok()) await new Promise((r) => setTimeout(r, 20));
    };
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    const failed = Promise.all(workers).then(() => undefined);
    await Promise.race([until(() => completed.length >= BEFORE), failed]);

    completedBefore = new Set(completed.map((c) => c.serial));
    const inFlightAtStart = inFlight;
    archive = path.join(source.tempDir, 'certmint-backup.tar.gz');
    const started = performance.now();
    const backup = await source.cli(['backup', '--out', archive]);
    const ms = Math.round(performance.now() - started);
    const duringBackup = completed.filter((c) => c.at >= started && c.at <= started + ms).length;
    const afterBackup = completed.length;
    await Promise.race([until(() => completed.length >= afterBackup + AFTER), failed]);
    stopping = true;
    await Promise.all(workers);

    expect(backup.code, `${backup.stderr}\n${source.output()}`).toBe(0);
    expect(backup.stdout).toMatch(/wrote .*certmint-backup\.tar\.gz .*mode 0600/);
    expect(backup.stdout).not.toMatch(/PRIVATE KEY/);
    expect(inFlightAtStart).toBeGreaterThan(0);
    expect((await stat(archive)).mode & 0o777).toBe(0o600);
    expect((await readdir(source.tempDir)).filter((f) => f.endsWith('.partial'))).toEqual([]);

    const { stdout: listing } = await execFileAsync('tar', ['tzf', archive]);
    expect(listing.split('\n')).toEqual(
      expect.arrayContaining(['MANIFEST.json', 'ledger.sqlite3', 'ca/', 'ca/root.pem', 'ca/root.key.pem', 'ca/intermediate.key.pem', 'ca/secrets.key']),
    );
    manifest = JSON.parse((await execFileAsync('tar', ['-xzOf', archive, 'MANIFEST.json'])).stdout) as BackupManifest;
    // Every issuance that had completed when the backup started is in it (plus the server's own TLS certificate).
    expect(manifest.certificates).toBeGreaterThan(completedBefore.size);
    expect(manifest.files.find((f) => f.path === 'ca/root.key.pem')?.mode).toBe('0600');
    const total = (await listedSerials(path.join(source.tempDir, 'certmint.yaml'))).length;
    console.log(
      `backup under load: ${manifest.certificates} certificates in the backup (${total} in the ledger at the end), ` +
        `${completedBefore.size} issued before it started, ${inFlightAtStart} in flight at its start, ${duringBackup} completed during it; ` +
        `certmint backup took ${ms} ms (${/ in (\d+ ms)/.exec(backup.stdout)?.[1]} of it in the command itself); archive ${(await stat(archive)).size} bytes`,
    );
    sourceChain = completed[0]!.chain;
  });

  it('refuses a truncated or corrupted archive and writes nothing', { timeout: 30_000 }, async () => {
    const bytes = await readFile(archive);
    const dir = path.join(work, 'never');
    const cut = path.join(work, 'cut.tar.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const truncated = await runCli(['restore', cut, '--data-dir', dir]);
    expect(truncated.code).not.toBe(0);
    expect(truncated.stderr).toMatch(/^certmint: .*(truncated|corrupt)/);
    expect(existsSync(dir)).toBe(false);

    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 3)]! ^= 0x55;
    await writeFile(cut, flipped);
    const corrupt = await runCli(['restore', cut, '--data-dir', dir]);
    expect(corrupt.code).not.toBe(0);
    expect(corrupt.stderr).toMatch(/^certmint: .*(truncated|corrupt)/);
    expect(existsSync(dir)).toBe(false);
  });

  it('restores into a new dir: certs list finds every certificate of the restored ledger', { timeout: 60_000 }, async () => {
    const dir = path.join(work, 'restored');
    const r = await runCli(['restore', archive, '--data-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${manifest.certificates} certificates`);
    expect(r.stdout).toContain(new X509Certificate(source.rootPem).subject.replace(/\n/g, ', '));
    expect(r.stdout).not.toMatch(/PRIVATE KEY/);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, 'ca'))).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(dir, 'ca', 'root.key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'ca', 'secrets.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(dir, 'ca', 'root.key.pem'))).toEqual(await readFile(path.join(source.dataDir, 'ca', 'root.key.pem')));

    const inLedger = serialsIn(path.join(dir, 'ledger.sqlite3'));
    expect(inLedger).toHaveLength(manifest.certificates);
    const config = path.join(work, 'restored.yaml');
    await writeFile(config, `dataDir: ${dir}\n`);
    expect(await listedSerials(config)).toEqual(inLedger);
    for (const serial of completedBefore) expect(inLedger).toContain(serial);
  });

  it('refuses a non-empty data dir without --force (changing nothing), replaces it with --force, and serves from it', { timeout: 120_000 }, async () => {
    let refused: Awaited<ReturnType<typeof runCli>> | undefined;
    let before: Record<string, string> = {};
    let after: Record<string, string> = {};
    let forced: Awaited<ReturnType<typeof runCli>> | undefined;
    target = await target.restart(async () => {
      before = await snapshot(target.dataDir);
      refused = await runCli(['restore', archive, '--data-dir', target.dataDir]);
      after = await snapshot(target.dataDir);
      forced = await runCli(['restore', archive, '--data-dir', target.dataDir, '--force']);
    });
    expect(refused!.code).not.toBe(0);
    expect(refused!.stderr).toMatch(/is not empty .*nothing was written.*--force/);
    expect(after).toEqual(before);
    expect(forced!.code, forced!.stderr).toBe(0);

    // The same roots and intermediate as the server that was backed up.
    expect(target.rootPem).toBe(source.rootPem);
    const targetResponder = await startHttp01Responder('127.0.0.1', target.http01Port);
    try {
      const issued = await issueWith(await newClient(target), targetResponder, 'after-restore.backup.test');
      expect(issued.chain[1]).toBe(sourceChain[1]);
      const listed = await listedSerials(path.join(target.tempDir, 'certmint.yaml'));
      expect(listed).toContain(issued.serial);
      for (const serial of completedBefore) expect(listed).toContain(serial);
      expect(listed.length).toBeGreaterThan(manifest.certificates);
    } finally {
      await targetResponder.stop();
    }
  });
});
