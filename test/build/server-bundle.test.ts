import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm run build` bundles the server into dist/cli/main.js (scripts/build-server.mjs): start-up
// reads one file instead of ~1,900 modules. What would quietly undo that, or break the bundle only
// where a code path is rare (a worker thread starts for CRLs over 2,000 entries), is checked here.
const repo = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repo, 'dist', 'cli');
const bundle = readFileSync(path.join(cli, 'main.js'), 'utf8');

describe('dist/cli/main.js', () => {
  it('is one bundle: it imports no module by a relative path (no other module of dist/)', () => {
    const imports = [...bundle.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)].map((m) => m[1]!);
    expect(imports.filter((s) => /^(\.\.?)?\//.test(s))).toEqual([]);
    expect(imports).toContain('better-sqlite3');
    expect(bundle.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('has every worker thread the sources start beside it, bundled too', () => {
    const names = readdirSync(path.join(repo, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .flatMap((f) => [...readFileSync(path.join(repo, 'src', f), 'utf8').matchAll(/workerUrl\(import\.meta\.url, '([\w-]+)'\)/g)].map((m) => m[1]!));
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) {
      const worker = path.join(cli, `${name}.js`);
      expect(existsSync(worker), worker).toBe(true);
      expect(readFileSync(worker, 'utf8')).not.toMatch(/\bfrom\s*["']\.\.?\//);
    }
  });

  it('runs: --version answers from the bundle', () => {
    const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version;
    expect(execFileSync(process.execPath, [path.join(cli, 'main.js'), '--version'], { encoding: 'utf8' }).trim()).toContain(version);
  });
});
