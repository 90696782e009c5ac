import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { requireOrSkip } from '../support/clients.js';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/step-ca.sh');
const run = promisify(execFile);
const hasShellcheck = requireOrSkip('shellcheck', 'apt-get install shellcheck');

// Starting step-ca builds it (minutes the first time) and is the benchmark's business
// (npm run bench); here, what can go wrong without starting it.
describe('bench/step-ca.sh', () => {
  it('is valid bash', async () => {
    await run('bash', ['-n', SCRIPT]);
  });

  it.skipIf(!hasShellcheck)('is shellcheck-clean', async () => {
    await run('shellcheck', [SCRIPT]);
  });

  it('stops cleanly when nothing runs, and refuses an unknown command', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'certmint-stepca-'));
    try {
      await run('bash', [SCRIPT, 'stop'], { env: { ...process.env, STEPCA_HOME: home } });
      expect(readdirSync(home)).toEqual([]);
      const refused = await run('bash', [SCRIPT, 'restart'], { env: { ...process.env, STEPCA_HOME: home } }).catch((e: { code: number; stderr: string }) => e);
      expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/usage: .*start \[PORT\] \| stop/) });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
