import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerSecrets, suiteLog } from './suite-log.js';

/** The built CLI, as `npx certmint` runs it. */
export const CERTMINT_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Fails early and clearly when the CLI was not built. */
export function requireBuiltCli(): void {
  if (!existsSync(CERTMINT_CLI)) throw new Error(`${CERTMINT_CLI} is missing: run npm run build (npm test does it first)`);
}

/** Runs `certmint <args>` with `env` over this process's environment; never rejects. */
export function runCli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CERTMINT_CLI, ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      logCliOutput(args, stdout, stderr);
      registerSecrets(passphrasesIn(env));
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The CA key passphrases a test hands the CLI, by variable or file. */
function passphrasesIn(env: Readonly<Record<string, string>>): string[] {
  const file = env.CERTMINT_CA_KEY_PASSPHRASE_FILE;
  const fromFile = file && existsSync(file) ? [readFileSync(file, 'utf8').replace(/\r?\n$/, '')] : [];
  return [...(env.CERTMINT_CA_KEY_PASSPHRASE ? [env.CERTMINT_CA_KEY_PASSPHRASE] : []), ...fromFile].filter((p) => p.length >= 4);
}

/**
 * What an admin command logged, for the scan of the whole run's logs: all of stderr, and the log
 * lines (pino's JSON) of stdout. The rest of stdout is the command's answer, which may be a secret
 * on purpose (`certmint eab create` prints the HMAC key once).
 */
export function logCliOutput(args: readonly string[], stdout: string, stderr: string): void {
  const text = stdout.split('\n').filter((line) => line.startsWith('{"level":')).map((line) => `${line}\n`).join('') + stderr;
  if (text.length === 0) return;
  const log = suiteLog(`certmint-${args[0] ?? 'cli'}`);
  log.write(text);
  log.close();
}
