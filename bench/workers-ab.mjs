// Issue 27, server.workers: CPU per issuance of certmint with 1 and with N workers, and of two
// builds (A/B), on the same unpinned load, interleaved (A B A B …: this VM's CPU figures drift
// ±15 % from minute to minute, a pair shares its minute). Each run is a fresh data dir, a C=1
// warm-up, then an N-issuance load of the Go client; the server's CPU is read from /proc per process
// (the primary apart from the workers). Hold the bench lock around it:
//
//   flock /tmp/certmint-bench.lock node bench/workers-ab.mjs --builds main=/work/main,this=. \
//     --workers 1,2 --rounds 3 [-n 300] [-c 32] [--warmup 20] [--pinned] [--ipc] [--strace]
//
// --pinned: the load client on the first CPU and the server on the others (taskset), as the
// benchmark's pinned loads (issue 27's target is on the pinned C=32 load).
//
// --warmup N: the C=1 issuances before each load (default 20). They run on one connection, so with
// several workers one worker alone is warm; with server.http2 (sessions end after 900 streams) a
// load then moves to a cold worker: a C=1 comparison of workers wants a warm-up past 115 issuances.
//
// --ipc: every process counts the IPC messages it sends (node:cluster's own and certmint's, by
// type, with their JSON bytes) through a preload (bench/ipc-count.mjs); it costs CPU itself, so
// read the CPU columns of a run without it. --strace: the server tree under `strace -c -f` (system
// calls per issuance; slows the server a lot: read only the counts).
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { setTimeout } from 'node:timers';
import os from 'node:os';
import { URL } from 'node:url';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildAcmego, cleanup, cpuMsOf, freePort, runAcmegoLoad, startCertmint, startChallTestSrv, writeCertmintConfig } from './processes.mjs';
import { cpuSplit, processTree } from './pinning.mjs';

const { values: opt } = parseArgs({
  options: {
    builds: { type: 'string', default: `this=${process.cwd()}` },
    workers: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '3' },
    n: { type: 'string', short: 'n', default: '300' },
    c: { type: 'string', short: 'c', default: '32' },
    ipc: { type: 'boolean', default: false },
    strace: { type: 'boolean', default: false },
    'server-line': { type: 'string', multiple: true, default: [] },
    warmup: { type: 'string', default: '20' },
    pinned: { type: 'boolean', default: false },
  },
});
const split = opt.pinned ? cpuSplit() : undefined;
if (split && !split.split) throw new Error(`--pinned: ${split.reason}`);
const cpus = split?.split;
const builds = opt.builds.split(',').map((b) => {
  const [label, repo] = b.split('=');
  return { label, main: path.join(path.resolve(repo), 'dist', 'cli', 'main.js') };
});
const workerCounts = opt.workers.split(',').map(Number);
const n = Number(opt.n);
const c = Number(opt.c);

/**
 * certmint_http_connections_total (each one a TLS handshake, ~2 ms of CPU here: the Go client's
 * HTTP/1.1 pool dials anew at times, which moves a run's CPU figure); the scrape's own one included.
 */
function acceptedConnections(directoryUrl, caBundle) {
  return new Promise((resolve, reject) => {
    const req = httpsGet(new URL('/metrics', directoryUrl), { ca: readFileSync(caBundle), agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.once('end', () => resolve(Number(/^certmint_http_connections_total (\S+)$/m.exec(body)?.[1] ?? NaN)));
    });
    req.once('timeout', () => req.destroy(new Error('/metrics did not answer')));
    req.once('error', reject);
  });
}

const cpuOf = (pid) => {
  try {
    return cpuMsOf(pid);
  } catch {
    return 0;
  }
};

async function oneRun(dir, dns, build, workers) {
  const runDir = mkdtempSync(path.join(dir, `${build.label}-w${workers}-`));
  const dataDir = path.join(runDir, 'data');
  const ipcDir = path.join(runDir, 'ipc');
  mkdirSync(ipcDir);
  const http01Port = await freePort();
  const configFile = await writeCertmintConfig(runDir, { dataDir, dnsAddress: dns.dnsAddress, http01Port, ...(workers > 1 ? { workers } : {}) });
  // --server-line 'key: value': more keys under `server:` (e.g. maxConnectionsPerAddress: 0).
  if (opt['server-line'].length > 0) {
    writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('server:\n', `server:\n${opt['server-line'].map((l) => `  ${l}\n`).join('')}`));
  }
  const nodeArgs = opt.ipc ? ['--import', path.resolve('bench/ipc-count.mjs')] : [];
  if (opt.ipc) process.env.BENCH_IPC_DIR = ipcDir;
  const server = await startCertmint(configFile, { logFile: path.join(runDir, 'serve.log'), nodeArgs, main: build.main, cpus: cpus?.servers });
  const target = { directoryUrl: server.directoryUrl, caBundle: path.join(dataDir, 'ca', 'root.pem'), listen: `127.0.0.1:${http01Port}`, clientCpus: cpus?.client };
  try {
    const w = await runAcmegoLoad({ ...target, n: Number(opt.warmup), c: 1, nameTemplate: 'warm-w%d-i%d.load.test' });
    if (w.errors > 0) throw new Error(`warm-up: ${w.first_error}`);
    const pids = processTree(server.pid);
    const connectionsBefore = await acceptedConnections(target.directoryUrl, target.caBundle);
    const before = pids.map(cpuOf);
    let strace;
    if (opt.strace) {
      strace = spawn('strace', ['-c', '-f', '-o', path.join(runDir, 'strace.txt'), ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 500)); // attach
    }
    const load = await runAcmegoLoad({ ...target, n, c, nameTemplate: 'load-w%d-i%d.load.test' });
    const after = pids.map(cpuOf);
    const connections = (await acceptedConnections(target.directoryUrl, target.caBundle)) - connectionsBefore - 1;
    if (strace) {
      strace.kill('SIGINT');
      await new Promise((r) => strace.once('exit', r));
    }
    const perProcess = pids.map((p, i) => +((after[i] - before[i]) / n).toFixed(2));
    const row = {
      build: build.label,
      workers,
      perSec: load.per_sec,
      p50: load.p50_ms,
      errors: load.errors,
      cpuMs: +perProcess.reduce((a, b) => a + b, 0).toFixed(2),
      primaryMs: workers > 1 ? perProcess[0] : 0,
      perProcess,
      connectionsPerIssuance: +(connections / n).toFixed(2),
    };
    row.refusedPerAddress = (readFileSync(path.join(runDir, 'serve.log'), 'utf8').match(/beyond server\.maxConnectionsPerAddress/g) ?? []).length;
    if (strace) row.syscalls = readStrace(path.join(runDir, 'strace.txt'));
    return { row, ipcDir };
  } finally {
    await server.stop();
  }
}

/** strace -c's table: calls per issuance of the calls that matter here. */
function readStrace(file) {
  const out = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    const name = f.at(-1);
    if (f.length >= 5 && /^\d/.test(f[0])) out[name] = +(Number(f[3]) / n).toFixed(1);
  }
  return out;
}

function readIpc(dir) {
  const sum = {};
  for (const f of readdirSync(dir)) {
    const counts = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
    for (const [k, v] of Object.entries(counts)) {
      sum[k] ??= { messages: 0, bytes: 0 };
      sum[k].messages += v.messages;
      sum[k].bytes += v.bytes;
    }
  }
  return Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, { perIssuance: +(v.messages / n).toFixed(2), bytesPerIssuance: Math.round(v.bytes / n) }]));
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-workers-ab-'));
  try {
    buildAcmego();
    const dns = await startChallTestSrv(dir);
    const rows = [];
    for (let round = 0; round < Number(opt.rounds); round++) {
      for (const workers of workerCounts) {
        for (const build of builds) {
          const { row, ipcDir } = await oneRun(dir, dns, build, workers);
          // The counts are written at exit (server.stop() awaited it).
          if (opt.ipc) row.ipc = readIpc(ipcDir);
          rows.push(row);
          console.log(JSON.stringify(row));
        }
      }
    }
    const median = (xs) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    };
    for (const workers of workerCounts) {
      for (const build of builds) {
        const rs = rows.filter((r) => r.build === build.label && r.workers === workers);
        console.log(
          `${build.label} workers ${workers}: CPU ms/issuance median ${median(rs.map((r) => r.cpuMs))} [${rs.map((r) => r.cpuMs).join(', ')}], primary ${median(rs.map((r) => r.primaryMs))} [${rs.map((r) => r.primaryMs).join(', ')}], /s median ${median(rs.map((r) => r.perSec))} [${rs.map((r) => r.perSec).join(', ')}], connections per issuance [${rs.map((r) => r.connectionsPerIssuance).join(', ')}]`,
        );
      }
    }
  } finally {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`workers-ab: FAILED: ${err.stack ?? err.message}`);
  process.exitCode = 1;
});
