// Issue 27: how often an issuance does the operations that cost (JSON parse/stringify, base64url
// conversions, key imports, X.509 parses, signatures and verifications, HMACs and hashes, random
// bytes, date formatting): certmint (unbundled, pinned as the benchmark's pinned loads) with
// bench/call-count-preload.mjs, a warm-up, the counts zeroed, then a C-way load of N issuances
// from the Go client; counts per issuance. The wrappers cost CPU: take no timing from this run.
//
//   flock /tmp/certmint-bench.lock node bench/call-counts.mjs [--issuances N] [--concurrency C] [--stacks NAME]
//
// --stacks NAME: that operation's calls also by caller (two frames), e.g. --stacks JSON.stringify.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CERTMINT_MODULES_MAIN, REPO, buildAcmego, cleanup, runAcmegoLoad, startCertmint, startChallTestSrv, writeCertmintConfig } from './processes.mjs';
import { cpuSplit } from './pinning.mjs';

const { values: opt } = parseArgs({ options: { issuances: { type: 'string', default: '300' }, concurrency: { type: 'string', default: '32' }, stacks: { type: 'string' } } });
const n = Number(opt.issuances);
const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-counts-'));
const countsFile = path.join(dir, 'counts.json');
process.env.CALL_COUNTS_FILE = countsFile;
if (opt.stacks) process.env.CALL_COUNTS_STACKS = opt.stacks;
try {
  buildAcmego();
  const dns = await startChallTestSrv(dir);
  const dataDir = path.join(dir, 'data');
  const configFile = await writeCertmintConfig(dir, { dataDir, dnsAddress: dns.dnsAddress, http01Port: 80 });
  const cpus = cpuSplit().split;
  const preload = path.join(REPO, 'bench', 'call-count-preload.mjs');
  const server = await startCertmint(configFile, { logFile: path.join(dir, 'serve.log'), cpus: cpus?.servers, nodeArgs: ['--import', pathToFileURL(preload).href], main: CERTMINT_MODULES_MAIN });
  const target = { directoryUrl: server.directoryUrl, caBundle: path.join(dataDir, 'ca', 'root.pem'), listen: '127.0.0.1:80', accountKey: 'ec256', clientCpus: cpus?.client };
  let load;
  try {
    const w = await runAcmegoLoad({ ...target, n: 20, c: 1, nameTemplate: 'counts-warmup%d-i%d.load.test' });
    if (w.errors > 0) throw new Error(`warm-up: ${w.errors} errors, first: ${w.first_error}`);
    process.kill(server.pid, 'SIGUSR2');
    load = await runAcmegoLoad({ ...target, n, c: Number(opt.concurrency), nameTemplate: 'counts-w%d-i%d.load.test' });
    if (load.errors > 0) throw new Error(`load: ${load.errors} errors, first: ${load.first_error}`);
  } finally {
    await server.stop();
  }
  await server.exited;
  const counts = JSON.parse(readFileSync(countsFile, 'utf8'));
  console.log(`calls per issuance (${load.ok} issuances, C=${opt.concurrency}; the load's ${opt.concurrency} account registrations included):`);
  for (const [name, c] of Object.entries(counts).sort((a, b) => b[1] - a[1])) console.log(`${(c / load.ok).toFixed(2).padStart(8)}  ${name}`);
} finally {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
