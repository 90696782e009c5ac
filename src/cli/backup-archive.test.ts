import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArchiveError, readArchive, writeArchive, type ArchiveEntry, type EntryHeader } from './backup-archive.js';

const execFileAsync = promisify(execFile);
const mtime = new Date('2026-01-02T03:04:05Z');

describe('backup archive (gzip ustar)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'certmint-archive-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const big = randomBytes(300_000 + 17); // not a multiple of 512, streamed from a file
  async function sampleEntries(): Promise<ArchiveEntry[]> {
    const bigFile = path.join(dir, 'big.bin');
    await writeFile(bigFile, big);
    return [
      { type: 'file', name: 'MANIFEST.json', mode: 0o600, mtime, size: 2, source: Buffer.from('{}') },
      { type: 'file', name: 'ledger.sqlite3', mode: 0o600, mtime, size: big.length, source: { path: bigFile } },
      { type: 'directory', name: 'ca', mode: 0o700, mtime },
      { type: 'file', name: 'ca/root.key.pem', mode: 0o600, mtime, size: 5, source: Buffer.from('key\n\n') },
      { type: 'file', name: 'ca/root.pem', mode: 0o644, mtime, size: 0, source: Buffer.alloc(0) },
      { type: 'directory', name: 'crl', mode: 0o755, mtime },
      { type: 'file', name: 'crl/intermediate.crl', mode: 0o644, mtime, size: 512, source: Buffer.alloc(512, 7) },
    ];
  }

  async function readAll(file: string): Promise<{ header: EntryHeader; data: Buffer }[]> {
    const out: { header: EntryHeader; data: Buffer }[] = [];
    await readArchive(file, (header) => {
      const chunks: Buffer[] = [];
      const item = { header, data: Buffer.alloc(0) };
      out.push(item);
      return { write: (c) => void chunks.push(Buffer.from(c)), end: () => void (item.data = Buffer.concat(chunks)) };
    });
    return out;
  }

  it('reads back what it wrote: names, types, modes, sizes, contents; the file is 0600 and no temporary file remains', async () => {
    const file = path.join(dir, 'backup.tar.gz');
    await writeArchive(file, await sampleEntries());
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['backup.tar.gz', 'big.bin']);
    const entries = await readAll(file);
    expect(entries.map((e) => [e.header.name, e.header.type, e.header.mode.toString(8), e.header.size])).toEqual([
      ['MANIFEST.json', 'file', '600', 2],
      ['ledger.sqlite3', 'file', '600', big.length],
      ['ca', 'directory', '700', 0],
      ['ca/root.key.pem', 'file', '600', 5],
      ['ca/root.pem', 'file', '644', 0],
      ['crl', 'directory', '755', 0],
      ['crl/intermediate.crl', 'file', '644', 512],
    ]);
    expect(entries[1]!.data.equals(big)).toBe(true);
    expect(entries[3]!.data.toString()).toBe('key\n\n');
    expect(entries[1]!.header.mtime).toEqual(mtime);
    // A whole number of 10 KiB tar records, as GNU tar writes them.
    expect(gunzipSync(await readFile(file)).length % 10240).toBe(0);
  });

  it('is a tar that system tar lists (tar tzf) and unpacks with the same contents and modes', async () => {
    const file = path.join(dir, 'backup.tar.gz');
    await writeArchive(file, await sampleEntries());
    const { stdout } = await execFileAsync('tar', ['tzf', file]);
    expect(stdout.trim().split('\n')).toEqual([
      'MANIFEST.json',
      'ledger.sqlite3',
      'ca/',
      'ca/root.key.pem',
      'ca/root.pem',
      'crl/',
      'crl/intermediate.crl',
    ]);
    const out = path.join(dir, 'x');
    await execFileAsync('mkdir', [out]);
    await execFileAsync('tar', ['xzpf', file, '-C', out]);
    expect((await readFile(path.join(out, 'ledger.sqlite3'))).equals(big)).toBe(true);
    expect((await stat(path.join(out, 'ca/root.key.pem'))).mode & 0o777).toBe(0o600);
  });

  it('reads an archive made by system tar (ustar format)', async () => {
    const src = path.join(dir, 'src');
    await execFileAsync('mkdir', ['-p', path.join(src, 'ca')]);
    await writeFile(path.join(src, 'ca', 'root.pem'), 'hello');
    const file = path.join(dir, 'made-by-tar.tar.gz');
    await execFileAsync('tar', ['--format=ustar', '-czf', file, '-C', src, 'ca']);
    const entries = await readAll(file);
    expect(entries.map((e) => e.header.name)).toEqual(['ca', 'ca/root.pem']);
    expect(entries[1]!.data.toString()).toBe('hello');
  });

  it('refuses a truncated archive (cut gzip stream, or a whole gzip of a cut tar)', async () => {
    const file = path.join(dir, 'backup.tar.gz');
    await writeArchive(file, await sampleEntries());
    const bytes = await readFile(file);
    const cut = path.join(dir, 'cut.tar.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(readAll(cut)).rejects.toThrow(/unexpected end of file/);
    // The gzip layer intact, the tar inside it cut after the first entries: no end-of-archive blocks.
    const tar = gunzipSync(bytes);
    await writeFile(cut, gzipSync(tar.subarray(0, 3 * 512)));
    await expect(readAll(cut)).rejects.toThrow(ArchiveError);
    await expect(readAll(cut)).rejects.toThrow(/truncated/);
  });

  it('refuses a corrupted archive: a flipped byte in the gzip data, or a tar header that fails its checksum', async () => {
    const file = path.join(dir, 'backup.tar.gz');
    await writeArchive(file, await sampleEntries());
    const bytes = Buffer.from(await readFile(file));
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 0xff;
    const bad = path.join(dir, 'bad.tar.gz');
    await writeFile(bad, flipped);
    await expect(readAll(bad)).rejects.toThrow();
    const tar = gunzipSync(bytes);
    tar[3] = 'X'.charCodeAt(0); // inside the first entry's name
    await writeFile(bad, gzipSync(tar));
    await expect(readAll(bad)).rejects.toThrow(/checksum/);
  });

  it('refuses entries other than files and directories, and names that climb out', async () => {
    const src = path.join(dir, 'src');
    await execFileAsync('mkdir', ['-p', src]);
    await execFileAsync('ln', ['-s', '/etc/passwd', path.join(src, 'link')]);
    const file = path.join(dir, 'link.tar.gz');
    await execFileAsync('tar', ['--format=ustar', '-czf', file, '-C', src, 'link']);
    await expect(readAll(file)).rejects.toThrow(/type "2"/);
    await expect(writeArchive(path.join(dir, 'x.tar.gz'), [{ type: 'directory', name: '../up', mode: 0o700, mtime }])).rejects.toThrow(
      /not a plain relative path/,
    );
    expect(await readdir(dir)).toEqual(['src', 'link.tar.gz'].sort());
  });
});
