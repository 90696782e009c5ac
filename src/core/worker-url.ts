import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The URL of a worker-thread module beside `moduleUrl` (the caller's import.meta.url). Built code
 * loads its sibling .js (beside tsc's module, or beside the server bundle dist/cli/server.cjs); when
 * the caller runs from TypeScript sources (tests), the worker is the compiled one under dist/,
 * because worker threads load files through Node without a transformer.
 */
export function workerUrl(moduleUrl: string, name: string): URL {
  const here = fileURLToPath(moduleUrl);
  if (here.endsWith('.js') || here.endsWith('.cjs')) return new URL(`./${name}.js`, moduleUrl);
  const compiled = here.replace(/\/src\/(.+)\/[^/]+\.ts$/, `/dist/$1/${name}.js`);
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build (npm test does it first)`);
  return pathToFileURL(compiled);
}
