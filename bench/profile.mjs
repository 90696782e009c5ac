// Issue 27: the profile that guides the work. certmint (tsc's unbundled entry, so each frame names
// its source file) under `node --cpu-prof` (pinned like the
// benchmark's pinned loads when the machine allows), a C=32 load of N issuances from the Go
// client, SIGTERM (serve closes and exits; Node writes the profile at exit), then the JavaScript
// thread's self time per issuance by category (bench/profile-report.mjs), printed and written to
// bench/results/profile-<date>.json. The .cpuprofile stays in the run's temporary directory
// (bench/results/ is not committed; --keep keeps it) for Chrome DevTools or speedscope.
//
//   node bench/profile.mjs [--issuances N] [--concurrency C] [--workers N] [--no-pinned] [--keep] [--markdown]
//
// --workers N: certmint with server.workers N. cluster.fork passes --cpu-prof on to every worker
// (a worker's execArgv is the primary's), so each writes its own .cpuprofile; the figures are the
// workers' summed per issuance (each served part of the load), the primary left out.
//
// Also `npm run bench -- --profile` (with the benchmark's run).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CERTMINT_MODULES_MAIN, REPO, buildAcmego, cleanup, cpuMsOf, runAcmegoLoad, startCertmint, startChallTestSrv, writeCertmintConfig } from './processes.mjs';
import { cpuSplit, processTree } from './pinning.mjs';
import { attributeProfile, profileNote, profileTable } from './profile-report.mjs';

/** Microseconds of the monotonic clock V8's profiler stamps its samples with. */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Profiles one certmint on a fresh data dir in `dir` under a C=`c` load of `n` issuances; `cpus`
 * ({client, servers}) pins the client and the server, null runs both unpinned.
 */
export async function profileCertmint({ dir, dns, n = 1000, c = 32, warmup = 20, cpus, http01Port = 80, accountKey = 'ec256', nameTemplate = 'profile-w%d-i%d.load.test', outDir, log = () => {}, workers = 1 }) {
  const profileDir = path.join(dir, 'cpuprofile');
  mkdirSync(profileDir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const configFile = await writeCertmintConfig(dir, { dataDir, dnsAddress: dns.dnsAddress, http01Port, ...(workers > 1 ? { workers } : {}) });
  log(`profile: certmint${workers > 1 ? ` (server.workers ${workers})` : ''} under --cpu-prof${cpus ? ` on CPU ${cpus.servers}, client on CPU ${cpus.client}` : ', unpinned'}, C=${c} N=${n}`);
  const server = await startCertmint(configFile, { logFile: path.join(dir, 'serve.log'), cpus: cpus?.servers, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`], main: CERTMINT_MODULES_MAIN });
  const target = { directoryUrl: server.directoryUrl, caBundle: path.join(dataDir, 'ca', 'root.pem'), listen: `127.0.0.1:${http01Port}`, accountKey, clientCpus: cpus?.client };
  let load;
  let fromUs;
  let toUs;
  let mainThreadMs;
  /** The processes whose JavaScript thread serves requests: the server, or its workers. */
  const serving = () => (workers > 1 ? processTree(server.pid).filter((pid) => pid !== server.pid) : [server.pid]);
  const mainThreadsMs = (pids) => pids.reduce((sum, pid) => sum + cpuMsOf(pid, pid), 0);
  let servingPids = [];
  try {
    // Warm-up: the JIT and the first TLS sessions, outside the window the profile is read over.
    const w = await runAcmegoLoad({ ...target, n: warmup, c: 1, nameTemplate: nameTemplate.replace('%d', 'warmup%d') });
    if (w.errors > 0) throw new Error(`profile warm-up: ${w.errors} errors, first: ${w.first_error}`);
    servingPids = serving();
    const before = mainThreadsMs(servingPids);
    fromUs = nowUs();
    load = await runAcmegoLoad({ ...target, n, c, nameTemplate });
    toUs = nowUs();
    mainThreadMs = mainThreadsMs(servingPids) - before;
    if (load.errors > 0) throw new Error(`profile load: ${load.errors} errors, first: ${load.first_error}`);
  } finally {
    await server.stop();
  }
  const { code, signal } = await server.exited;
  if (code !== 0) throw new Error(`certmint serve did not exit cleanly after SIGTERM (${code ?? signal}), so Node wrote no profile`);
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile: each worker thread (CRL encoding, the
  // ledger's revoked-list reader) writes its own; the JavaScript (main) thread is thread 0.
  const cpuprofiles = servingPids.map((pid) => {
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.0.`));
    if (files.length !== 1) throw new Error(`expected one main-thread .cpuprofile of pid ${pid} in ${profileDir}, found ${readdirSync(profileDir).join(', ') || 'none'}`);
    return path.join(profileDir, files[0]);
  });
  const cpuprofile = cpuprofiles.join(' ');
  const attribution = summedAttribution(cpuprofiles.map((f) => attributeProfile(JSON.parse(readFileSync(f, 'utf8')), { issuances: load.ok, fromUs, toUs })));
  const result = {
    at: new Date().toISOString(),
    c,
    n,
    cpus: cpus ?? null,
    perSec: load.per_sec,
    p50Ms: load.p50_ms,
    workers,
    mainThreadCpuMsPerIssuance: +(mainThreadMs / load.ok).toFixed(2),
    // The load's window on V8's clock: bench/profile-functions.mjs reads the same samples.
    window: { fromUs, toUs },
    attribution,
    cpuprofile,
  };
  if (outDir) {
    mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `profile-${result.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2));
    result.file = file;
  }
  log(`profile: ${attribution.busyMsPerIssuance} ms of the JavaScript thread per issuance (${result.mainThreadCpuMsPerIssuance} ms from /proc)`);
  return result;
}

/** Several workers' attributions of one load (each per issuance of the whole load): their sum. */
function summedAttribution(all) {
  if (all.length === 1) return all[0];
  const sum = (values) => +values.reduce((a, b) => a + b, 0).toFixed(3);
  const busy = sum(all.map((a) => a.busyMsPerIssuance));
  const other = new Map();
  for (const o of all.flatMap((a) => a.topOther)) other.set(o.name, (other.get(o.name) ?? 0) + o.msPerIssuance);
  return {
    issuances: all[0].issuances,
    windowMs: all[0].windowMs,
    busyMsPerIssuance: busy,
    categories: all[0].categories.map(({ name }, i) => {
      const ms = sum(all.map((a) => a.categories[i].msPerIssuance));
      return { name, msPerIssuance: ms, percentOfBusy: name === 'idle' || busy === 0 ? null : +((ms / busy) * 100).toFixed(1) };
    }),
    topOther: [...other].sort((a, b) => b[1] - a[1]).slice(0, all[0].topOther.length).map(([name, ms]) => ({ name, msPerIssuance: +ms.toFixed(3) })),
  };
}

async function main() {
  const { values: opt } = parseArgs({
    options: {
      issuances: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '32' },
      workers: { type: 'string', default: '1' },
      'no-pinned': { type: 'boolean', default: false },
      'http01-port': { type: 'string', default: '80' },
      out: { type: 'string', default: path.join(REPO, 'bench', 'results') },
      markdown: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
    },
  });
  const log = (m) => console.error(m);
  const split = cpuSplit();
  if (!opt['no-pinned'] && !split.split) log(`profile: unpinned: ${split.reason}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-profile-'));
  try {
    buildAcmego();
    const dns = await startChallTestSrv(dir);
    const result = await profileCertmint({ dir, dns, n: Number(opt.issuances), c: Number(opt.concurrency), cpus: opt['no-pinned'] ? null : split.split, http01Port: Number(opt['http01-port']), outDir: opt.out, log, workers: Number(opt.workers) });
    const { formatTable } = await import('./report.mjs');
    console.log(formatTable(profileTable(result), { markdown: opt.markdown }));
    console.log(`\n${profileNote(result)}\nJSON: ${path.relative(process.cwd(), result.file)}${opt.keep ? `; profile: ${result.cpuprofile}` : ''}`);
  } finally {
    await cleanup();
    if (opt.keep) log(`profile: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(`profile: FAILED: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  });
}
