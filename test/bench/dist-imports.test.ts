import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// bench/*.mjs import certmint's compiled modules from dist/, which the type checker never sees:
// a module moved in src/ would break `npm run bench` only when CI reaches it. Every such import
// must name a module that src/ compiles to.
const repo = path.resolve(import.meta.dirname, '../..');
const bench = path.join(repo, 'bench');

describe('bench/*.mjs', () => {
  it('import from dist/ only modules that src/ compiles', () => {
    const files = readdirSync(bench).filter((f) => f.endsWith('.mjs'));
    const specifiers = files.flatMap((f) =>
      [...readFileSync(path.join(bench, f), 'utf8').matchAll(/['"]\.\.\/dist\/([^'"]+)\.js['"]/g)].map((m) => ({ file: f, module: m[1]! })),
    );
    expect(specifiers.length).toBeGreaterThan(0);
    const missing = specifiers.filter(({ module }) => !existsSync(path.join(repo, 'src', `${module}.ts`)));
    expect(missing.map(({ file, module }) => `bench/${file}: dist/${module}.js (no src/${module}.ts)`)).toEqual([]);
  });
});
