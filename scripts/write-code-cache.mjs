// The build's warm-up (scripts/build-server.mjs): starts the server bundle (dist/cli/server.cjs)
// twice on a throw-away data dir, the first start creating a CA, the second loading it as every
// later start does; when that second start stops, V8 writes the code of every function it compiled
// as the bundle's code cache (src/cli/code-cache.ts). Warmed by a start, the cache holds the
// functions a start calls, not only each module's top level.
// usage: node scripts/write-code-cache.mjs <dist/cli>
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [cli, child] = [path.resolve(process.argv[2]), process.argv[3] === '--child'];
const { runServerBundle } = await import(pathToFileURL(path.join(cli, 'code-cache.js')).href);
if (child) {
  // certmint's own arguments after <dist/cli> --child; commander reads process.argv from [2].
  process.argv.splice(2, 2);
  runServerBundle(path.join(cli, 'server.cjs'), { writeCacheAtExit: process.env.WRITE_CODE_CACHE === '1' });
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'certmint-code-cache-'));
  try {
    const config = path.join(dir, 'certmint.yaml');
    writeFileSync(config, `server:\n  listen: 127.0.0.1:0\n  baseUrl: https://localhost:8443\ndataDir: ${JSON.stringify(path.join(dir, 'data'))}\n`);
    await start(config, false);
    await start(config, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One `certmint serve`, stopped (SIGTERM: it drains and exits) once it serves. */
function start(config, writeCache) {
  // The builder's CERTMINT_* settings (a ledger.url, a log level) are not the warm-up's.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CERTMINT_') && k !== 'NODE_OPTIONS'));
  const server = spawn(process.execPath, [process.argv[1], cli, '--child', 'serve', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env, WRITE_CODE_CACHE: writeCache ? '1' : '0' },
  });
  let out = '';
  const read = (chunk) => {
    out += chunk;
    if (out.includes('ACME directory at')) server.kill('SIGTERM');
  };
  server.stdout.on('data', read);
  server.stderr.on('data', read);
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.on('exit', (code) => (code === 0 && out.includes('ACME directory at') ? resolve() : reject(new Error(`the warm-up start of certmint serve failed (exit ${code}):\n${out.slice(-2000)}`))));
  });
}
