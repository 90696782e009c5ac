import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { freePort } from '../support/ports.js';

// scripts/container-healthcheck.mjs, the image's HEALTHCHECK, against a real certmint: configured
// the way the container is (CERTMINT_* variables, or the file at CERTMINT_CONFIG), trusting only
// the roots in the data directory.

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/container-healthcheck.mjs');

function healthcheck(env: Record<string, string>, probePath?: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      probePath === undefined ? [SCRIPT] : [SCRIPT, probePath],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 },
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    ),
  );
}

describe('container healthcheck (scripts/container-healthcheck.mjs)', () => {
  let certmint: CertmintProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    certmint = await startCertmint();
    env = {
      CERTMINT_DATA_DIR: certmint.dataDir,
      CERTMINT_SERVER_LISTEN: `127.0.0.1:${new URL(certmint.baseUrl).port}`,
    };
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  it('exits 0 for /health (the default) and /ready, verifying the server against its own root', async () => {
    expect(await healthcheck(env)).toEqual({ code: 0, stderr: '' });
    expect(await healthcheck(env, '/ready')).toEqual({ code: 0, stderr: '' });
  });

  it('reads the config file named by CERTMINT_CONFIG, as the image does', async () => {
    const file = path.join(certmint.tempDir, 'healthcheck.yaml');
    await writeFile(file, `server:\n  listen: "${env.CERTMINT_SERVER_LISTEN}"\ndataDir: ${certmint.dataDir}\n`);
    expect(await healthcheck({ CERTMINT_CONFIG: file })).toEqual({ code: 0, stderr: '' });
  });

  it('exits 1 when the path does not answer 200', async () => {
    const r = await healthcheck(env, '/no-such-path');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/no-such-path answered 404');
  });

  it('exits 1 when the server\'s certificate does not chain to the roots in the data directory', async () => {
    // A data dir whose ca/ holds another CA's root (certmint's own TLS root, renamed, would pass).
    const otherDataDir = path.join(certmint.tempDir, 'other-data');
    await mkdir(path.join(otherDataDir, 'ca'), { recursive: true });
    const other = await startCertmint();
    try {
      await writeFile(path.join(otherDataDir, 'ca', 'root.pem'), other.rootPem);
    } finally {
      await other.stop();
    }
    const r = await healthcheck({ ...env, CERTMINT_DATA_DIR: otherDataDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/certmint healthcheck: .*(certificate|issuer)/i);
  }, 60_000);

  it('exits 1 when nothing listens', async () => {
    const r = await healthcheck({ ...env, CERTMINT_SERVER_LISTEN: `127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ECONNREFUSED');
  });
});
