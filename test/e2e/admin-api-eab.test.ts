import { execFile } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireOrSkip } from '../support/clients.js';
import { registerSecrets } from '../support/suite-log.js';

// An EAB key created through the admin API (POST /api/v1/eab-keys, over HTTPS with an operator
// token from `certmint admin token create`) binds a real lego account; the API then lists the
// account, and the audit log names the admin who made the key.
const legoAvailable = requireOrSkip('lego', 'apt-get install lego');

describe.skipIf(!legoAvailable)('an EAB key from the admin API, used by lego', () => {
  let certmint: CertmintProcess;
  let bearer = '';

  beforeAll(async () => {
    certmint = await startCertmint({ config: { eab: { required: true }, admin: { enabled: true } } });
    const created = await certmint.cli(['admin', 'token', 'create', '--name', 'ops', '--role', 'operator', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    registerSecrets([token]);
    bearer = `Bearer ${token}`;
  }, 120_000);
  afterAll(async () => {
    await certmint?.stop();
  });

  function call(method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${certmint.baseUrl}/api/v1${route}`,
        {
          method,
          ca: certmint.rootPem,
          agent: false,
          timeout: 10_000,
          headers: { authorization: bearer, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.once('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
        },
      );
      req.once('timeout', () => req.destroy(new Error(`${method} ${route} timed out`)));
      req.once('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  it('lego registers with the key the API created and gets a certificate; the API lists the account and audits the admin', { timeout: 180_000 }, async () => {
    const created = await call('POST', '/eab-keys', { label: 'lego-via-api' });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const kid = String(created.json.kid);
    const hmacKey = String(created.json.hmacKey);
    registerSecrets([hmacKey]);

    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        'lego',
        [
          '--server', certmint.directoryUrl, '--email', 'ops@example.internal', '--accept-tos',
          '--domains', 'api.eab-lego.test', '--http', '--http.port', `127.0.0.1:${certmint.http01Port}`,
          '--path', path.join(certmint.tempDir, 'lego-api'), '--eab', '--kid', kid, '--hmac', hmacKey, 'run',
        ],
        { env: { ...process.env, LEGO_CA_CERTIFICATES: certmint.rootFile }, timeout: 90_000 },
        (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr }),
      );
    });
    expect(run.code, `${run.stderr}\n--- certmint ---\n${certmint.output()}`).toBe(0);

    const keys = (await call('GET', '/eab-keys')).json.eabKeys as { kid: string; state: string; bindings: number; boundAccount: string }[];
    const key = keys.find((k) => k.kid === kid)!;
    expect(key).toMatchObject({ state: 'used', bindings: 1 });
    const account = await call('GET', `/accounts/${key.boundAccount}`);
    expect(account.json).toMatchObject({ status: 'valid', certificates: 1, contacts: ['mailto:ops@example.internal'] });
    const audit = (await call('GET', `/audit?subject=eab:${kid}`)).json.entries as { actor: string; action: string }[];
    expect(audit.map((e) => [e.actor, e.action])).toEqual([
      ['admin:ops', 'eab-create'],
      [`account:${key.boundAccount}`, 'eab-bind'],
    ]);
  });
});
