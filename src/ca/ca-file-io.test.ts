import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaError, writeNewCaFiles } from './ca-file-io.js';

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'certmint-io-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('writeNewCaFiles', () => {
  it('creates the directory 0700 and each file with its mode, leaving no temporary files', async () => {
    const dir = join(base, 'a', 'ca');
    await writeNewCaFiles(dir, [
      { path: join(dir, 'k.pem'), contents: 'key\n', mode: 0o600 },
      { path: join(dir, 'c.pem'), contents: 'cert\n', mode: 0o644 },
    ]);
    expect((await readdir(dir)).sort()).toEqual(['c.pem', 'k.pem']);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'k.pem'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'c.pem'), 'utf8')).toBe('cert\n');
  });

  it('never overwrites, and takes back what it wrote when a later file already exists', async () => {
    const dir = join(base, 'b');
    await writeNewCaFiles(dir, [{ path: join(dir, 'second.pem'), contents: 'theirs\n', mode: 0o644 }]);
    const attempt = writeNewCaFiles(dir, [
      { path: join(dir, 'first.pem'), contents: 'mine\n', mode: 0o600 },
      { path: join(dir, 'second.pem'), contents: 'mine\n', mode: 0o600 },
    ]);
    await expect(attempt).rejects.toBeInstanceOf(CaError);
    await expect(attempt).rejects.toThrow(`${join(dir, 'second.pem')} already exists`);
    expect(await readdir(dir)).toEqual(['second.pem']);
    expect(await readFile(join(dir, 'second.pem'), 'utf8')).toBe('theirs\n');
  });

  it('reports a directory it cannot create', async () => {
    const file = join(base, 'plain-file');
    await writeFile(file, '');
    await expect(writeNewCaFiles(join(file, 'ca'), [])).rejects.toThrow(CaError);
  });
});
