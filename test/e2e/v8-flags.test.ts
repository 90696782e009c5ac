import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';

// src/cli/v8-flags.ts: `certmint serve` lowers V8's interrupt budget once it serves, in the one
// process or in each worker of server.workers (issue 27). A real server, with a probe preloaded
// into every process it runs, that measures on SIGUSR2 how soon V8 optimizes a function there.

const PROBE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../support/v8-tiering-probe.mjs');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let certmint: CertmintProcess | undefined;
afterEach(async () => {
  await certmint?.stop();
  certmint = undefined;
});

async function probedServer(workers: number): Promise<{ server: CertmintProcess; probeDir: string }> {
  const probeDir = mkdtempSync(path.join(tmpdir(), 'certmint-v8-probe-'));
  certmint = await startCertmint({ config: { server: { workers } }, env: { NODE_OPTIONS: `--import ${PROBE}`, CERTMINT_PROBE_DIR: probeDir } });
  return { server: certmint, probeDir };
}

/** The probe's count in process `pid` (SIGUSR2, then its file). */
async function callsUntilOptimized(pid: number, probeDir: string): Promise<number> {
  process.kill(pid, 'SIGUSR2');
  const file = path.join(probeDir, String(pid));
  for (let i = 0; i < 200 && !existsSync(file); i++) await sleep(25);
  return Number(readFileSync(file, 'utf8'));
}

/** The count with V8's defaults: the same probe in a plain node. */
function defaultCount(probeDir: string): number {
  const script = `process.emit('SIGUSR2'); console.log(require('node:fs').readFileSync(require('node:path').join(process.env.CERTMINT_PROBE_DIR, String(process.pid)), 'utf8'));`;
  return Number(execFileSync(process.execPath, ['--import', PROBE, '-e', script], { encoding: 'utf8', env: { ...process.env, CERTMINT_PROBE_DIR: probeDir } }).trim());
}

describe('V8 flags of certmint serve (issue 27)', () => {
  it('one process: once it serves, V8 optimizes hot code after fewer calls than by default', async () => {
    const { server, probeDir } = await probedServer(1);
    const byDefault = defaultCount(probeDir);
    expect(await callsUntilOptimized(server.process.pid!, probeDir)).toBeLessThan(byDefault / 2);
  }, 60_000);

  it('server.workers 2: each worker does; the primary, which serves nothing, keeps the default', async () => {
    const { server, probeDir } = await probedServer(2);
    // The primary is ready when its first worker serves; the second starts after it. AcmeWire opens
    // a connection per request, so round-robin reaches both: wait until each has answered.
    const wire = new AcmeWire(server.baseUrl, server.rootPem);
    const answered = new Set<string>();
    for (let i = 0; i < 400 && answered.size < 2; i++) {
      answered.add(String((await wire.get('/health')).headers['certmint-worker']));
      if (answered.size < 2) await sleep(50);
    }
    expect(answered.size).toBe(2);
    const out = execFileSync('ps', ['--ppid', String(server.process.pid), '-o', 'pid=,args='], { encoding: 'utf8' });
    const workers = out.split('\n').filter((l) => l.includes('main.js')).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(workers).toHaveLength(2);
    const primary = await callsUntilOptimized(server.process.pid!, probeDir);
    expect(primary).toBe(defaultCount(probeDir));
    for (const pid of workers) expect(await callsUntilOptimized(pid, probeDir)).toBeLessThan(primary / 2);
  }, 60_000);
});
