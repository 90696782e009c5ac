import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
    execFile(process.execPath, [CERTMINT_CLI, ...args], { env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
