import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyncedFile, isAtomicWriteTemp, tempPathFor, writeFileAtomically } from './atomic-file.js';

const BUILT_HELPER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/core/atomic-file.js');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-atomic-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const mode = (file: string) => statSync(file).mode & 0o777;

describe('writeFileAtomically', () => {
  it('creates the file with exactly the mode asked for, whatever the umask, and leaves nothing beside it', async () => {
    const previous = process.umask(0o077);
    try {
      await writeFileAtomically(path.join(dir, 'crl.pem'), 'public\n', { mode: 0o644 });
      await writeFileAtomically(path.join(dir, 'key.pem'), 'secret\n', { mode: 0o600 });
    } finally {
      process.umask(previous);
    }
    expect(mode(path.join(dir, 'crl.pem'))).toBe(0o644);
    expect(mode(path.join(dir, 'key.pem'))).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['crl.pem', 'key.pem']);
  });

  it('replaces an existing file whole, with the new mode', async () => {
    const file = path.join(dir, 'server.pem');
    writeFileSync(file, 'old contents that are longer than the new ones\n', { mode: 0o666 });
    await writeFileAtomically(file, Buffer.from('new\n'), { mode: 0o644 });
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(mode(file)).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['server.pem']);
  });

  it('leaves the old file and no temporary file when the contents cannot be written', async () => {
    const file = path.join(dir, 'backup.tar.gz');
    writeFileSync(file, 'old\n');
    const failing = async (handle: FileHandle) => {
      await handle.write('half of it');
      throw new Error('disk full');
    };
    await expect(writeFileAtomically(file, failing, { mode: 0o600, tempSuffix: '.partial' })).rejects.toThrow('disk full');
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['backup.tar.gz']);
  });

  it('leaves no temporary file when the rename fails', async () => {
    const target = path.join(dir, 'taken');
    mkdirSync(path.join(target, 'not-empty'), { recursive: true });
    await expect(writeFileAtomically(target, 'x', { mode: 0o644 })).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('lets concurrent writers race without a mixed or short result', async () => {
    const file = path.join(dir, 'intermediate.crl');
    const bodies = Array.from({ length: 20 }, (_, i) => Buffer.alloc(256 * 1024 + i, 65 + i));
    await Promise.all(bodies.map((b) => writeFileAtomically(file, b, { mode: 0o644 })));
    const result = readFileSync(file);
    expect(bodies.some((b) => b.equals(result))).toBe(true);
    expect(readdirSync(dir)).toEqual(['intermediate.crl']);
  });

  it('names its temporary files so a backup can tell them apart', () => {
    const temp = path.basename(tempPathFor(path.join(dir, 'intermediate.crl')));
    expect(temp).toMatch(/^\.intermediate\.crl\.[0-9a-f]{12}\.tmp$/);
    expect(isAtomicWriteTemp(temp)).toBe(true);
    expect(isAtomicWriteTemp('intermediate.crl')).toBe(false);
  });
});

describe('createSyncedFile', () => {
  it('never replaces a file that exists (O_EXCL)', async () => {
    const file = path.join(dir, 'root.key.pem');
    writeFileSync(file, 'the first CA\n');
    await expect(createSyncedFile(file, 'a second CA\n', 0o600)).rejects.toThrow(/EEXIST/);
    expect(readFileSync(file, 'utf8')).toBe('the first CA\n');
  });
});

/**
 * A process killed (SIGKILL) part way through a write, after earlier writes completed: the target
 * holds the last whole document. The writer stops at a chosen point inside its file, says so, and
 * waits to be killed (on stdin, so the kill lands exactly there without any timing). Each document
 * is ~1 MB of JSON; a torn or short file would not parse or would fail its length check.
 */
const WRITE_LOOP = `
const { writeFileAtomically } = await import(process.argv[1]);
const [target, whole, cutAt] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
for (let i = 0; i <= whole; i++) {
  const body = String(i % 10).repeat(1_000_000 + i);
  const doc = Buffer.from(JSON.stringify({ i, length: body.length, body }));
  await writeFileAtomically(target, async (handle) => {
    for (let at = 0; at < doc.length; at += 65536) {
      if (i === whole && at >= doc.length * cutAt) {
        process.stdout.write('cut\\n');
        await new Promise((resolve) => process.stdin.once('data', resolve));
      }
      await handle.write(doc.subarray(at, at + 65536));
    }
  }, { mode: 0o600 });
}
`;

describe('after a kill -9 in the middle of writing', () => {
  it.each([0, 0.1, 0.5, 0.9])('the target holds the last whole document (killed %s of the way into the next)', async (cutAt) => {
    const target = path.join(dir, 'state.json');
    const whole = 3;
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITE_LOOP, BUILT_HELPER, target, String(whole), String(cutAt)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let out = '';
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('cut')) resolve();
      });
      child.once('exit', () => resolve());
    });
    child.kill('SIGKILL');
    await exited;
    expect(out, 'the writer died before reaching the cut').toContain('cut');
    const doc = JSON.parse(readFileSync(target, 'utf8')) as { i: number; length: number; body: string };
    expect(doc.i).toBe(whole - 1);
    expect(doc.body.length).toBe(doc.length);
    expect(mode(target)).toBe(0o600);
    // The write cut short leaves its temporary file: hidden and recognisable, never the target.
    expect(readdirSync(dir).filter((n) => n !== 'state.json').every(isAtomicWriteTemp)).toBe(true);
  });
});
