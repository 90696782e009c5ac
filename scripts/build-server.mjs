// Bundles the compiled server (dist/cli/main.js, from tsc) into one file, dist/cli/server.cjs, with
// its worker threads beside it, and makes V8's code cache of it; dist/cli/main.js becomes the small
// loader that runs the bundle from that cache (src/cli/start.ts, src/cli/code-cache.ts). A start
// reads a few files instead of ~1,900 modules (resolving, reading and compiling node_modules' files
// one by one was most of the 1.1-1.4 s from spawn to serving), and compiles little of the bundle
// again (issue 27: ≤ 0.5 s; docs/benchmarks.md). Part of `npm run build`.
//
// - dist/cli/main-modules.js is tsc's entry, kept unbundled: `node --cpu-prof` of it attributes
//   time to each source file (bench/profile.mjs), which a bundle's one URL cannot.
// - Native addons stay outside (better-sqlite3, pkcs11js; pg's optional pg-native is never loaded).
// - Every `import.meta.url` in the bundle is dist/cli/server.cjs: the paths it resolves (../../migrations,
//   ../../package.json, the workers beside it, ../console/assets) hold at that depth too.
// - Identifiers are kept (whitespace and syntax minified only) so stack traces in logs read.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli');
const BANNER = "import { createRequire as __certmintRequire } from 'node:module'; const require = __certmintRequire(import.meta.url);";
// Run twice without tsc in between, dist/cli/main.js is the loader already: bundle from the kept entry.
if (readFileSync(path.join(cli, 'main.js'), 'utf8').includes("from 'commander'")) {
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

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'pkcs11js', 'pg-native'],
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};

// The server as CommonJS, the one format Node 20 can run from a V8 code cache (vm.Script's
// cachedData; src/cli/code-cache.ts). Its sources are ES modules: `import.meta.url` becomes the
// bundle's own URL, beside main.js, so the paths it resolves hold as before.
const server = path.join(cli, 'server.cjs');
await build({
  ...common,
  entryPoints: ['dist/cli/main-modules.js'],
  outfile: server,
  format: 'cjs',
  define: { 'import.meta.url': '__certmintModuleUrl' },
  banner: { js: "'use strict'; const __certmintModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
// The first line names this build (code-cache.ts): replaces main.ts's `#!` line, so the source map's lines hold.
const bundled = readFileSync(server, 'utf8');
if (!bundled.startsWith('#!')) throw new Error(`${server} does not start with main.ts's #! line`);
const buildId = randomUUID();
// ASCII only, as esbuild writes everything but a tagged template's text (the console's `html`…``,
// which reads the cooked strings, where \uXXXX is the same character): Node then reads the 2.9 MB
// as Latin-1 and V8 keeps it one byte a character, ~12 ms less of each start than UTF-8. (The source
// map's columns after such a character, on its line, are 5 off.)
const ascii = bundled.slice(bundled.indexOf('\n')).replace(/[^\t\n\r\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
writeFileSync(server, `//certmint-build ${buildId}${ascii}`);

// dist/cli/main.js (bin: certmint): src/cli/start.ts, one ES module that runs the server bundle.
await build({ ...common, entryPoints: ['dist/cli/start.js'], outfile: path.join(cli, 'main.js'), format: 'esm', sourcemap: false });
// Worker threads stay ES modules, each one file; CommonJS dependencies call require() for Node's own modules.
await build({ ...common, entryPoints: workerEntries(), outdir: cli, format: 'esm', banner: { js: BANNER } });

// The code cache: the last build's go; this one's is written by the warm-up starts (write-code-cache.mjs),
// with this Node and no flags: V8 refuses it under another, and the bundle is then compiled as before.
for (const file of readdirSync(cli)) if (file.endsWith('.v8-cache') || file.endsWith('.v8-cache.tmp')) rmSync(path.join(cli, file));
execFileSync(process.execPath, [path.join(root, 'scripts/write-code-cache.mjs'), cli], { stdio: ['ignore', 'ignore', 'inherit'] });
const cache = readdirSync(cli).filter((file) => file.endsWith('.v8-cache'));
if (cache.length !== 1) throw new Error(`the warm-up start wrote no code cache in ${cli} (${cache.join(', ')})`);
