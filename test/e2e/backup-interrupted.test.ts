import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTMINT_MAIN, startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireRootOrSkip } from '../support/clients.js';

// `certmint backup` stopped half way, by kill -9 or by a full disk, must leave nothing at --out
// that looks like a backup: an operator (or a cron job rotating backups) takes a file at that name
// for a complete one.
const isRoot = requireRootOrSkip("mount a tmpfs in the server's mount namespace");

function tarList(file: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile('tar', ['tzf', file], (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
  });
}

describe('certmint backup killed (kill -9) while it writes the archive', () => {
  let certmint: CertmintProcess;
  beforeAll(async () => {
    certmint = await startCertmint();
    // A large CRL directory (as a CA with many revocations has; random bytes do not compress) makes
    // the archive take long enough to be caught half way.
    await writeFile(path.join(certmint.dataDir, 'crl', 'intermediate-99.crl'), randomBytes(48 << 20));
  });
  afterAll(async () => certmint?.stop());

  it('leaves no file at --out, only a hidden .partial that tar and restore refuse', { timeout: 60_000 }, async () => {
    const outDir = path.join(certmint.tempDir, 'backups');
    await mkdir(outDir);
    const out = path.join(outDir, 'certmint.tar.gz');
    // Its staging copy of the ledger (under TMPDIR) outlives a kill -9: keep it under tempDir.
    const staging = path.join(certmint.tempDir, 'tmp');
    await mkdir(staging);
    const backup = spawn(process.execPath, [CERTMINT_MAIN, 'backup', '--out', out, '--config', path.join(certmint.tempDir, 'certmint.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TMPDIR: staging },
    });
    let stderr = '';
    backup.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => backup.once('exit', (code, signal) => resolve(signal ?? code)));

    // Kill it once the archive being written holds a few MB.
    let partial: string | undefined;
    for (let i = 0; i < 4000 && !partial; i++) {
      for (const name of await readdir(outDir)) {
        const size = name.endsWith('.partial') ? ((await stat(path.join(outDir, name)).catch(() => undefined))?.size ?? 0) : 0;
        if (size > 4 << 20) partial = name;
      }
      if (!partial) await new Promise((r) => setTimeout(r, 5));
    }
    expect(partial, `the archive was never caught half way: ${stderr}`).toBeDefined();
    backup.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(existsSync(out)).toBe(false);
    const left = await readdir(outDir);
    expect(left).toEqual([partial]);
    expect(partial).toMatch(/^\.certmint\.tar\.gz\.[0-9a-f]+\.partial$/);
    const listed = await tarList(path.join(outDir, partial!));
    expect(listed.ok, listed.out).toBe(false);
    const restore = await certmint.cli(['restore', path.join(outDir, partial!), '--data-dir', path.join(certmint.tempDir, 'restored')]);
    expect(restore.code).not.toBe(0);
    expect(restore.stderr).toMatch(/truncated|corrupt/);
    expect(existsSync(path.join(certmint.tempDir, 'restored', 'ledger.sqlite3'))).toBe(false);

    // The next backup to the same name completes.
    const again = await certmint.cli(['backup', '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect((await tarList(out)).ok).toBe(true);
  });
});

describe.skipIf(!isRoot)('certmint backup onto a disk that fills up (a tmpfs in the server\'s mount namespace)', () => {
  let certmint: CertmintProcess;
  beforeAll(async () => {
    if (!isRoot) return;
    certmint = await startCertmint({ tmpfsDataDir: '8m' });
  });
  afterAll(async () => certmint?.stop());

  it('fails with one line that says why, and leaves nothing at --out, not even a .partial', { timeout: 60_000 }, async () => {
    const ns = certmint.mountNamespace!;
    // --out on the same small disk, outside what the backup reads, and the disk full.
    const filled = await ns.sh('mkdir "$DATA/backups" && dd if=/dev/zero of="$DATA/filler" bs=4k 2>&1');
    expect(filled.stdout).toMatch(/No space left on device/);
    const out = path.join(certmint.dataDir, 'backups', 'certmint.tar.gz');
    const backup = await certmint.cli(['backup', '--out', out]);
    expect(backup.code).not.toBe(0);
    expect(backup.stderr.trim().split('\n'), backup.stderr).toHaveLength(1);
    expect(backup.stderr).toMatch(/no space left on device/i);
    expect(await readdir(path.join(certmint.dataDirView, 'backups'))).toEqual([]);

    // Space again: the same command writes a whole archive.
    expect((await ns.sh('rm "$DATA/filler"')).code).toBe(0);
    const again = await certmint.cli(['backup', '--out', out]);
    expect(again.code, again.stderr).toBe(0);
    expect((await tarList(path.join(certmint.dataDirView, 'backups', 'certmint.tar.gz'))).ok).toBe(true);
  });
});
