import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One built asset, kept in memory with its gzip form (the whole set is some tens of kB). */
interface Asset {
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly type: string;
}

/** The console's script and stylesheet as `npm run build` wrote them (scripts/build-console.mjs). */
export interface ConsoleAssets {
  readonly script: string;
  readonly stylesheet: string;
  readonly files: ReadonlyMap<string, Asset>;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * dist/console/assets beside the compiled server: from dist/admin/console/ (tsc's modules), from
 * dist/cli/ (the bundle, scripts/build-server.mjs), or the repository's dist/ when running from src/.
 */
function assetsDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.join(here, '../../console/assets'), path.join(here, '../console/assets'), path.join(here, '../../../dist/console/assets')].find((dir) =>
    existsSync(path.join(dir, 'manifest.json')),
  );
}

/** The built assets, read once; undefined when they were never built (the pages then say so). */
export function loadConsoleAssets(dir: string | undefined = assetsDir()): ConsoleAssets | undefined {
  if (dir === undefined) return undefined;
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { script: string; stylesheet: string; files: Record<string, unknown> };
  const files = new Map<string, Asset>();
  for (const name of Object.keys(manifest.files)) {
    files.set(name, { body: readFileSync(path.join(dir, name)), gzip: readFileSync(path.join(dir, `${name}.gz`)), type: TYPES[path.extname(name)] ?? 'application/octet-stream' });
  }
  return { script: manifest.script, stylesheet: manifest.stylesheet, files };
}
