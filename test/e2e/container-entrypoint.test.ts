import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { captureChildLogs } from '../support/suite-log.js';
import { requireOrSkip } from '../support/clients.js';
import { dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { freePort } from '../support/ports.js';

// examples/container-entrypoint/entrypoint.sh run directly (no container) against a real certmint
// and real lego; the "service" it starts is a small Node HTTPS server standing in for nginx.

const ENTRYPOINT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/container-entrypoint/entrypoint.sh');
const shellcheckFound = requireOrSkip('shellcheck', 'apt-get install shellcheck');
const available =
  requireOrSkip('lego', 'apt-get install lego') &&
  requireOrSkip('curl', 'apt-get install curl') &&
  requireOrSkip('openssl', 'apt-get install openssl');

/** Serves CERT_FILE/KEY_FILE on PORT; on SIGHUP loads them again and counts it in RELOAD_LOG. */
const SERVICE = `
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
const files = () => ({ cert: readFileSync(process.env.CERT_FILE), key: readFileSync(process.env.KEY_FILE) });
const server = createServer(files(), (req, res) => res.end('ok'));
process.on('SIGHUP', () => { server.setSecureContext(files()); appendFileSync(process.env.RELOAD_LOG, 'reload\\n'); });
process.on('SIGTERM', () => { server.close(); process.exit(0); });
server.listen(Number(process.env.PORT), '127.0.0.1', () => writeFileSync(process.env.PID_FILE, String(process.pid)));
`;

interface EntrypointRun {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal's name) when the script has exited. */
  readonly exited: Promise<number | string>;
}

const runs: EntrypointRun[] = [];

function runEntrypoint(env: Record<string, string>, service: readonly string[]): EntrypointRun {
  const child = spawn('bash', [ENTRYPOINT, ...service], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The entrypoint's log (it handles the service's private key) goes to the scan of the run's logs.
  captureChildLogs(child, 'container-entrypoint');
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  const run = { child, output: () => output, exited };
  runs.push(run);
  return run;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, context: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms failed\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The leaf the service presents, verified against certmint's root for `servername`. */
function servedLeaf(port: number, servername: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername, ca, timeout: 5_000 }, () => {
      const leaf = socket.getPeerX509Certificate();
      socket.end();
      if (leaf === undefined) reject(new Error('no peer certificate'));
      else resolve(leaf);
    });
    socket.once('error', reject);
    socket.once('timeout', () => socket.destroy(new Error('TLS connect timed out')));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `ps` lines of processes whose command line mentions `marker` (e.g. a test's LEGO_PATH). */
function processesMentioning(marker: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile('ps', ['-eo', 'pid=,args='], (err, stdout) =>
      err ? reject(err) : resolve(stdout.split('\n').filter((line) => line.includes(marker))),
    ),
  );
}

describe.skipIf(!available)('container entrypoint (examples/container-entrypoint/entrypoint.sh)', () => {
  let certmint: CertmintProcess;
  let rootFingerprint: string;

  beforeAll(async () => {
    certmint = await startCertmint();
    rootFingerprint = new X509Certificate(certmint.rootPem).fingerprint256;
  });
  afterEach(async () => {
    for (const run of runs.splice(0)) {
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill('SIGKILL');
        await run.exited;
      }
    }
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  const check = (cmd: string, args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${stdout}${stderr}`)) : resolve())),
    );
  it('passes bash -n', async () => {
    await expect(check('bash', ['-n', ENTRYPOINT])).resolves.toBeUndefined();
  });

  it.skipIf(!shellcheckFound)('passes shellcheck', async () => {
    await expect(check('shellcheck', [ENTRYPOINT])).resolves.toBeUndefined();
  });

  it('gets a certificate at boot, serves it, renews and reloads in the background, and stops on SIGTERM', { timeout: 120_000 }, async () => {
    const dir = path.join(certmint.tempDir, 'boot');
    const port = await freePort();
    const pidFile = path.join(dir, 'service.pid');
    const reloadLog = path.join(dir, 'reloads.log');
    const serviceFile = path.join(certmint.tempDir, 'service.mjs');
    await writeFile(serviceFile, SERVICE);
    const names = ['web.entrypoint.test', 'api.entrypoint.test'];
    const run = runEntrypoint(
      {
        CERTMINT_URL: certmint.baseUrl,
        DOMAINS: names.join(','),
        // The pin as openssl and browsers print it (colons, upper case).
        ROOT_SHA256: rootFingerprint,
        STATE_DIR: path.join(dir, 'state'),
        CERT_DIR: path.join(dir, 'certs'),
        HTTP01_LISTEN: `127.0.0.1:${certmint.http01Port}`,
        // Renew at every check (45-day certificates, "renew when under 10 years left"), every 2 s.
        RENEW_DAYS: '3650',
        RENEW_INTERVAL: '2',
        PORT: String(port),
        PID_FILE: pidFile,
        RELOAD_LOG: reloadLog,
      },
      [process.execPath, serviceFile],
    );

    const context = () => `--- entrypoint ---\n${run.output()}\n--- certmint ---\n${certmint.output()}`;
    const first = await until('the service serving a certificate', 60_000, () => servedLeaf(port, names[0]!, certmint.rootPem), context);
    expect(dnsNames(first)).toEqual([...names].sort());
    expect(run.output()).toContain('root matches the pinned fingerprint');

    // What the service was given: the chain as issued, its key private to the owner, the roots.
    const certDir = path.join(dir, 'certs');
    await expect(opensslVerify(certmint.rootFile, path.join(certDir, 'tls.crt'), path.join(certDir, 'tls.crt'))).resolves.toMatch(/: OK$/m);
    expect(splitPem(await readFile(path.join(certDir, 'tls.crt'), 'utf8'))).toHaveLength(2);
    expect((await stat(path.join(certDir, 'tls.key'))).mode & 0o077).toBe(0);
    expect(await readFile(path.join(certDir, 'ca.crt'), 'utf8')).toBe(certmint.rootPem);

    // The renew loop: lego renews, the entrypoint installs the files and signals the service.
    const renewed = await until(
      'a renewed certificate served after a reload',
      60_000,
      async () => {
        const reloads = await readFile(reloadLog, 'utf8');
        const leaf = await servedLeaf(port, names[0]!, certmint.rootPem);
        return reloads.includes('reload') && leaf.serialNumber !== first.serialNumber ? leaf : undefined;
      },
      context,
    );
    expect(dnsNames(renewed)).toEqual([...names].sort());
    expect(await certmint.showCertificate(renewed.serialNumber.toLowerCase())).toMatchObject({ status: 'valid' });

    // SIGTERM: the script, the service and any lego run all end.
    const servicePid = Number(await readFile(pidFile, 'utf8'));
    expect(alive(servicePid)).toBe(true);
    const started = Date.now();
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(Date.now() - started).toBeLessThan(10_000);
    await until('the service to exit', 5_000, async () => (alive(servicePid) ? undefined : true), context);
    await until('no lego left running', 5_000, async () => ((await processesMentioning(path.join(dir, 'state'))).length === 0 ? true : undefined), context);
  });

  it('after a restart renews only when due (tls-alpn-01), trusts the saved root, and exits with the service', { timeout: 120_000 }, async () => {
    const dir = path.join(certmint.tempDir, 'restart');
    const env = {
      CERTMINT_URL: certmint.baseUrl,
      DOMAINS: 'alpn.entrypoint.test',
      EMAIL: 'ops@example.internal',
      ROOT_TOFU: '1',
      STATE_DIR: path.join(dir, 'state'),
      CERT_DIR: path.join(dir, 'certs'),
      CHALLENGE: 'tls-alpn-01',
      TLS_ALPN01_LISTEN: `127.0.0.1:${certmint.tlsAlpn01Port}`,
      RENEW_INTERVAL: '3600',
    };
    const boot = runEntrypoint(env, ['sh', '-c', 'exit 3']);
    expect(await boot.exited, boot.output()).toBe(3);
    expect(boot.output()).toContain('ROOT_TOFU=1: trusting the root(s) served now');
    expect(await readFile(path.join(dir, 'state', 'roots.pem'), 'utf8')).toBe(certmint.rootPem);
    const issued = new X509Certificate(await readFile(path.join(dir, 'certs', 'tls.crt'), 'utf8'));
    expect(dnsNames(issued)).toEqual(['alpn.entrypoint.test']);

    // Second boot: same state; 45 days left is more than RENEW_DAYS (15), so no new certificate,
    // and the root comes from the file, not from trust on first use.
    const again = runEntrypoint(env, ['sh', '-c', 'exit 4']);
    expect(await again.exited, again.output()).toBe(4);
    expect(again.output()).not.toContain('ROOT_TOFU');
    const kept = new X509Certificate(await readFile(path.join(dir, 'certs', 'tls.crt'), 'utf8'));
    expect(kept.serialNumber).toBe(issued.serialNumber);
  });

  it('refuses a root that does not match the pinned fingerprint, and starts nothing', { timeout: 30_000 }, async () => {
    const dir = path.join(certmint.tempDir, 'pin');
    const run = runEntrypoint(
      {
        CERTMINT_URL: certmint.baseUrl,
        DOMAINS: 'pin.entrypoint.test',
        ROOT_SHA256: '00'.repeat(32),
        STATE_DIR: path.join(dir, 'state'),
        CERT_DIR: path.join(dir, 'certs'),
      },
      ['sh', '-c', 'echo service started'],
    );
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain(`does not hold the pinned root ${'00'.repeat(32)}`);
    expect(run.output()).not.toContain('service started');
  });

  it('refuses to start without a way to trust certmint', { timeout: 30_000 }, async () => {
    const dir = path.join(certmint.tempDir, 'no-trust');
    const run = runEntrypoint(
      { CERTMINT_URL: certmint.baseUrl, DOMAINS: 'x.entrypoint.test', STATE_DIR: path.join(dir, 'state'), CERT_DIR: path.join(dir, 'certs') },
      ['true'],
    );
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('no root to trust');
  });

  it('waits for certmint with backoff and gives up after READY_ATTEMPTS', { timeout: 30_000 }, async () => {
    const dir = path.join(certmint.tempDir, 'unreachable');
    const closed = await freePort();
    const started = Date.now();
    const run = runEntrypoint(
      {
        CERTMINT_URL: `https://127.0.0.1:${closed}`,
        DOMAINS: 'x.entrypoint.test',
        ROOT_TOFU: '1',
        READY_ATTEMPTS: '3',
        STATE_DIR: path.join(dir, 'state'),
        CERT_DIR: path.join(dir, 'certs'),
      },
      ['true'],
    );
    expect(await run.exited).toBe(1);
    // Backoff 1 s, then 2 s, between the three attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(run.output()).toMatch(/waiting for .*\/ready \(attempt 2, next in 2s\)/);
    expect(run.output()).toContain('did not answer 200 after 3 attempts');
  });
});
