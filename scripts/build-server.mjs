// Bundles the compiled server (dist/cli/main.js, from tsc) into one file in its place, with its
// worker threads beside it, so `certmint` starts by reading 3 files instead of ~1,900 modules:
// resolving, reading and compiling node_modules' files one by one was most of the 1.1-1.4 s from
// spawn to serving (issue 27: ≤ 0.5 s; docs/benchmarks.md). Part of `npm run build`.
//
// - dist/cli/main-modules.js is tsc's entry, kept unbundled: `node --cpu-prof` of it attributes
//   time to each source file (bench/profile.mjs), which a bundle's one URL cannot.
// - Native addons stay outside (better-sqlite3, pkcs11js; pg's optional pg-native is never loaded).
// - Every `import.meta.url` in the bundle is dist/cli/main.js: the paths it resolves (../../migrations,
//   ../../package.json, the workers beside it, ../console/assets) hold at that depth too.
// - Identifiers are kept (whitespace and syntax minified only) so stack traces in logs read.
import { build } from 'esbuild';
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli');
const BANNER = "import { createRequire as __certmintRequire } from 'node:module'; const require = __certmintRequire(import.meta.url);";
// Run twice without tsc in between, dist/cli/main.js is the bundle already: bundle from the kept entry.
if (!readFileSync(path.join(cli, 'main.js'), 'utf8').includes(BANNER)) {
  renameSync(path.join(cli, 'main.js'), path.join(cli, 'main-modules.js'));
  renameSync(path.join(cli, 'main.js.map'), path.join(cli, 'main-modules.js.map'));
}

/**
 * Worker threads are started by URL beside the module that starts them (core/worker-url.ts), which
 * in the bundle is dist/cli/: each `workerUrl(import.meta.url, 'name')` in src/ gets its worker
 * bundled there, found by reading the sources so a new worker cannot be forgotten.
 */
function workerEntries() {
  const entries = {};
  for (const file of readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    for (const m of readFileSync(path.join(root, 'src', file), 'utf8').matchAll(/workerUrl\(import\.meta\.url, '([\w-]+)'\)/g)) {
      entries[m[1]] = path.join('dist', path.dirname(file), `${m[1]}.js`);
    }
  }
  if (Object.keys(entries).length === 0) throw new Error('no workerUrl(import.meta.url, …) found in src/: has core/worker-url.ts changed?');
  return entries;
}

await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/cli/main-modules.js', ...workerEntries() },
  outdir: cli,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'pkcs11js', 'pg-native'],
  // CommonJS dependencies call require() for Node's own modules; an ES module bundle has none.
  banner: { js: BANNER },
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
