import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CERTMINT_CLI, requireBuiltCli, runCli } from '../../test/support/cli.js';
import { captureChildLogs } from '../../test/support/suite-log.js';

let dir: string;

const certmint = (args: string[], env: Record<string, string> = {}) => runCli(args, env);

beforeAll(() => {
  requireBuiltCli();
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('certmint CLI', () => {
  it('--version (and -V) prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await certmint([flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it('ca init creates the CA with private keys of mode 0600, and refuses to overwrite it', async () => {
    const env = { CERTMINT_DATA_DIR: path.join(dir, 'init') };
    const first = await certmint(['ca', 'init'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('-----BEGIN CERTIFICATE-----');
    for (const key of ['root.key.pem', 'intermediate.key.pem']) {
      expect(statSync(path.join(dir, 'init', 'ca', key)).mode & 0o777).toBe(0o600);
    }
    const second = await certmint(['ca', 'init'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/already/i);
  });

  it('refuses a corrupt config naming the file and key', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'validation:\n  http01Port: "eighty"\n');
    const r = await certmint(['serve', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`certmint: config file ${file} is invalid: validation.http01Port`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // one line, no stack
  });

  it('refuses a policy pattern it cannot read, naming the key, before creating anything', async () => {
    const file = path.join(dir, 'bad-policy.yaml');
    const dataDir = path.join(dir, 'bad-policy-data');
    writeFileSync(file, `dataDir: ${dataDir}\npolicies:\n  team:\n    allow: ["10.0.0.0/40"]\n`);
    const r = await certmint(['serve', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('certmint: policies.team.allow: "10.0.0.0/40" is not a valid CIDR network\n');
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses to start with a missing CA key, naming the file, and never makes a new CA', async () => {
    const dataDir = path.join(dir, 'broken');
    expect((await certmint(['ca', 'init'], { CERTMINT_DATA_DIR: dataDir })).code).toBe(0);
    const keyFile = path.join(dataDir, 'ca', 'intermediate.key.pem');
    unlinkSync(keyFile);
    const r = await certmint(['serve'], { CERTMINT_DATA_DIR: dataDir, CERTMINT_SERVER_LISTEN: '127.0.0.1:0' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(keyFile);
    expect(existsSync(keyFile)).toBe(false);
  });

  it('serves plain HTTP behind a TLS-terminating proxy, with every URL under server.baseUrl', async () => {
    const child = spawn(process.execPath, [CERTMINT_CLI, 'serve'], {
      env: {
        ...process.env,
        CERTMINT_DATA_DIR: path.join(dir, 'proxied'),
        CERTMINT_SERVER_LISTEN: '127.0.0.1:0',
        CERTMINT_SERVER_TLS_ENABLED: 'false',
        CERTMINT_SERVER_BASE_URL: 'https://acme.example.internal/ca',
      },
    });
    captureChildLogs(child, 'certmint-serve');
    try {
      const listening = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const dirRes = await fetch(`${listening}/ca/directory`);
      expect(await dirRes.json()).toMatchObject({ newNonce: 'https://acme.example.internal/ca/acme/new-nonce' });
      const nonce = await fetch(`${listening}/ca/acme/new-nonce`, { method: 'HEAD' });
      expect(nonce.status).toBe(200);
      expect(nonce.headers.get('replay-nonce')).toBeTruthy();
      expect((await fetch(`${listening}/ca/roots.pem`)).status).toBe(200);
      expect((await fetch(`${listening}/directory`)).status).toBe(404);
    } finally {
      child.kill();
    }
  });

  it('refuses a ledger from a newer certmint', async () => {
    const dataDir = path.join(dir, 'future');
    expect((await certmint(['ca', 'init'], { CERTMINT_DATA_DIR: dataDir })).code).toBe(0);
    const db = new Database(path.join(dataDir, 'ledger.sqlite3'));
    // ca init made the ledger (its audit entry); a newer certmint then migrated it further.
    expect(db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toMatchObject({ n: expect.any(Number) });
    db.prepare('INSERT INTO schema_migrations VALUES (99, ?, 0)').run('0099_future');
    db.close();
    const r = await certmint(['serve'], { CERTMINT_DATA_DIR: dataDir, CERTMINT_SERVER_LISTEN: '127.0.0.1:0' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/schema version 99, newer than this certmint knows/);
  });
});
