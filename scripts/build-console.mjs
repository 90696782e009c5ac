// Builds the console's browser assets (console/client/) into dist/console/assets/: one script and
// one stylesheet with content hashes in their names (served as immutable), a gzip copy of each,
// and manifest.json naming them. Part of `npm run build`; nothing is built at runtime.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/console/assets');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ['console/client/app.ts', 'console/client/app.css'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  entryNames: '[name]-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const manifest = { files: {} };
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  const name = path.basename(file);
  const body = readFileSync(path.join(root, file));
  writeFileSync(path.join(out, `${name}.gz`), gzipSync(body, { level: 9 }));
  if (meta.entryPoint?.endsWith('.ts')) manifest.script = name;
  if (meta.entryPoint?.endsWith('.css')) manifest.stylesheet = name;
  manifest.files[name] = { bytes: body.length };
}
writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
