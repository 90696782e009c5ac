import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// `npm run build` bundles the server into dist/cli/server.cjs, run by dist/cli/main.js from the V8
// code cache the build made of it (scripts/build-server.mjs, src/cli/code-cache.ts): a start reads
// a few files instead of ~1,900 modules and compiles little. What would quietly undo that, or break
// the bundle only where a code path is rare (a worker thread starts for CRLs over 2,000 entries),
// is checked here.
const repo = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repo, 'dist', 'cli');
const server = path.join(cli, 'server.cjs');
const bundle = readFileSync(server, 'utf8');
const loader = readFileSync(path.join(cli, 'main.js'), 'utf8');
/** A child Node without the test runner's options: V8 refuses a code cache made under other flags. */
const plainEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS'));
const relative = (code: string) =>
  [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"']+)["']/g)].map((m) => m[1]!).filter((s) => /^(\.\.?)?\//.test(s));

describe('dist/cli/server.cjs and main.js', () => {
  it('is one bundle: it loads no module by a relative path (no other module of dist/)', () => {
    expect(relative(bundle)).toEqual([]);
    expect(bundle).toMatch(/\brequire\(["']better-sqlite3["']\)/);
    // Strict, as the ES modules it was built from: the directive is the first statement.
    expect(bundle.split('\n')[1]).toMatch(/^'use strict';/);
    // ASCII (the console's "—" and "…" escaped): read as Latin-1, a one-byte string for V8.
    expect(bundle).toMatch(/^[\t\n\r\x20-\x7e]*$/);
  });

  it('main.js (bin: certmint) is the one loader file: Node modules only, then the bundle', () => {
    expect(loader.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(relative(loader)).toEqual([]);
    expect([...loader.matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((m) => m[1]).every((s) => s!.startsWith('node:'))).toBe(true);
    expect(loader).toContain('"server.cjs"');
  });

  it('has a code cache of this build that V8 takes (Node and flags of a plain start)', () => {
    const buildId = /^\/\/certmint-build ([\w-]+)\n/.exec(bundle)?.[1];
    expect(buildId).toBeDefined();
    expect(readdirSync(cli).filter((f) => f.endsWith('.v8-cache'))).toEqual([`server.cjs.${buildId}.v8-cache`]);
    const compiled = (ignoreCache: boolean) =>
      execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { compileServerBundle } from ${JSON.stringify(path.join(cli, 'code-cache.js'))}; console.log(compileServerBundle(${JSON.stringify(server)}, { ignoreCache: ${ignoreCache} }).compiledFromSource);`,
        ],
        { encoding: 'utf8', env: plainEnv },
      ).trim();
    expect(compiled(false)).toBe('false');
    expect(compiled(true)).toBe('true');
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
    expect(execFileSync(process.execPath, [path.join(cli, 'main.js'), '--version'], { encoding: 'utf8', env: plainEnv }).trim()).toContain(version);
  });
});
