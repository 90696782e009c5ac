import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { requireOrSkipFound } from './clients.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The compose plugin (`docker compose`) or Debian's docker-compose (1.29, which reads the same file
 * format): the argv prefix of the first one installed, or undefined (a skip, or under
 * CERTMINT_REQUIRE_CLIENTS=1 an error). `config` needs no engine.
 */
export function composeCliOrSkip(): readonly string[] | undefined {
  const cli = [['docker', 'compose'], ['docker-compose']].find(([cmd, ...sub]) => spawnSync(cmd!, [...sub, 'version'], { encoding: 'utf8' }).status === 0);
  return requireOrSkipFound(cli !== undefined, 'neither `docker compose` nor docker-compose is installed', 'docker compose', 'apt-get install docker-compose') ? cli : undefined;
}

/**
 * `<compose> -f docker-compose.yml <args>` in a temporary copy of the repository (every top-level
 * entry a symlink) whose secrets/ holds the files an operator creates (secrets/README.md), so the
 * compose file is read as a deployment reads it instead of stopping at a missing secret file.
 */
export function composeInCopy(cli: readonly string[], args: readonly string[]): SpawnSyncReturns<string> {
  const copy = mkdtempSync(path.join(tmpdir(), 'certmint-compose-'));
  try {
    for (const entry of readdirSync(ROOT)) {
      if (entry !== 'secrets' && entry !== 'node_modules') symlinkSync(path.join(ROOT, entry), path.join(copy, entry));
    }
    const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { secrets?: Record<string, { file?: string }> };
    for (const { file } of Object.values(compose.secrets ?? {})) {
      if (file === undefined) continue;
      mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
      writeFileSync(path.join(copy, file), 'a secret for the test\n', { mode: 0o600 });
    }
    const [cmd, ...sub] = cli;
    return spawnSync(cmd!, [...sub, '-f', 'docker-compose.yml', ...args], { cwd: copy, encoding: 'utf8' });
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
