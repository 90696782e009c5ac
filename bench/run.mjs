// `npm run bench`: certmint against step-ca with the Go x/crypto/acme client in load mode (certmint
// on its SQLite ledger, on PostgreSQL, and two instances on one PostgreSQL behind haproxy), the RSS
// of certmint over many issuances, the ledger at scale, restarts after kill -9 under load and
// `ledger copy` time (bench/recovery.mjs); one table, also written as JSON. Issue 27: the same
// loads with the client pinned to one CPU and each server to the rest (bench/pinning.mjs,
// bench/fair.mjs), certmint's workers side by side, start-up on an existing data dir, and with
// --profile where certmint's JavaScript thread spends its time (bench/profile.mjs).
// `npm run bench -- --quick` is the smoke run CI keeps working. See docs/benchmarks.md.
//
// Exit code: 1 when the benchmark itself broke (a step failed or a load had errors), never
// because a target was missed: machine noise must not fail CI.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { URL } from 'node:url';
import { parseArgs } from 'node:util';
import { measureLedgerScale } from './ledger-crl.mjs';
import { measureOverdueQueries } from './ledger-overdue.mjs';
import { measureConsole } from './ledger-console.mjs';
import { haproxyUnavailable } from './haproxy.mjs';
import { postgresUnavailable, startPostgres } from './postgres.mjs';
import { measureKill9Restarts, measureLedgerCopy } from './recovery.mjs';
import { softHsmCa, softHsmUnavailable } from './hsm.mjs';
import { REPO, buildAcmego, cleanup, cpuMsOf, isStopping, memoryOf, runAcmegoLoad, startCertmint, startChallTestSrv, startStepCa, writeCertmintConfig } from './processes.mjs';
import { SETUPS, checkTargets, formatResult, issuanceRow } from './report.mjs';
import { cpuSplit, defaultPinned, processTree, treeCpuMs } from './pinning.mjs';
import { fairRow } from './fair.mjs';
import { certmintStarts, pinnedRuns, scalingLoads, stepCaStarts } from './fair-loads.mjs';
import { machine } from './machine.mjs';
import { balancedLoads, postgresLoads } from './postgres-loads.mjs';
import { profileCertmint } from './profile.mjs';
import { alternatingRounds } from './alternating.mjs';

const HELP = `Usage: npm run bench -- [options]
  --quick                 smoke run (< ~60 s): certmint on SQLite only, C=1 and C=4, small N, small ledger,
                          unpinned only unless --pinned
  --pinned                pinned loads too: the load client on CPU <first>, each server (certmint, step-ca)
                          on the other CPUs (taskset); default in a full run when the machine has ≥ 2
                          cores and taskset exists; a full run does the pinned and the unpinned loads
  --no-pinned, --unpinned-only
                          the unpinned loads only (client and servers on every core, as before issue 27)
  --pinned-only           the pinned loads only (no PostgreSQL, HSM or scaling rows)
  --profile               also profile certmint (bench/profile.mjs: --cpu-prof, pinned, C=32)
  --profile-issuances N   issuances of the profiled load (default 1000; quick 100)
  --with-step-ca          with --quick: run step-ca too
  --no-step-ca            skip step-ca
  --postgres, --with-postgres
                          run the PostgreSQL setups, also with --quick: certmint-pg (one instance on a
                          throw-away PostgreSQL, fsync on) and certmint-pg-2 (two instances on it behind
                          haproxy); default: on in a full run when PostgreSQL is installed, off with --quick
  --no-postgres           skip them
  --no-hsm                skip the HSM row (certmint with its intermediate key on a SoftHSM token;
                          default: on, also with --quick, when SoftHSM2 is installed)
  --pg-pool-size N        ledger.poolSize of each PostgreSQL instance (default 10, certmint's default)
  --loads C:N,...         issuance loads (default 1:1000,8:1000,32:2000; quick 1:20,4:40; none skips them)
  --warmup N              untimed issuances per server before its loads (default 100; --quick 5)
  --c1-rounds R           C=1 in R alternating rounds per CPU mode, certmint and step-ca up side by side
                          and taking turns (order swapped each round; bench/alternating.mjs); the target
                          is also checked on the median of the round ratios (default 5; --quick 0; 0 skips)
  --c1-round-issuances N  issuances per server per round (default 300)
  --rss-issuances N       issuances of the RSS run (default 20000; quick 300; 0 skips it)
  --rss-batch N           issuances between RSS samples (default 5000; quick 100)
  --rss-concurrency C     workers of the RSS run (default 8; quick 4)
  --rss-workers N         server.workers of the certmint of the RSS run (default 1: the key unset); with
                          N > 1 each sample reads every process (primary and workers): rssMb is the largest
  --certs N --revoked N   ledger scale, renewal-overdue queries and the console's list and summary (issue 25)
                          (default 1000000 / 100000; quick 20000 / 2000; --certs 0 skips them)
  --start-runs N          server starts timed on that ledger, and certmint's and step-ca's start to serving
                          on the data dir their loads left (default 9; quick 3)
  --restart-kills N       kill -9 of certmint under load, restart timed each time (default 6; quick 2; 0 skips)
  --copy-certs N          certmint ledger copy of N certificates into PostgreSQL, timed (default 20000;
                          quick 2000; 0 skips; runs whenever PostgreSQL is installed, --quick too)
  --http01-port P         port certmint and step-ca validate http-01 on, acmego listens on (default 80)
  --account-key K         the load client's account keys: ec256 (default, lego's) or rsa2048 (cert-manager's)
  --markdown              print the table as Markdown (for docs/benchmarks.md)
  --from FILE             print the table of an earlier result (e.g. bench/results/latest.json), run nothing
  --out DIR               results directory (default bench/results)
  --keep                  keep the temporary data dirs and logs`;

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'with-step-ca': { type: 'boolean', default: false },
    'no-step-ca': { type: 'boolean', default: false },
    postgres: { type: 'boolean', default: false },
    'with-postgres': { type: 'boolean', default: false },
    'no-postgres': { type: 'boolean', default: false },
    'no-hsm': { type: 'boolean', default: false },
    pinned: { type: 'boolean', default: false },
    'no-pinned': { type: 'boolean', default: false },
    'pinned-only': { type: 'boolean', default: false },
    'unpinned-only': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-issuances': { type: 'string' },
    'pg-pool-size': { type: 'string', default: '10' },
    loads: { type: 'string' },
    warmup: { type: 'string' },
    'c1-rounds': { type: 'string' },
    'c1-round-issuances': { type: 'string' },
    'rss-issuances': { type: 'string' },
    'rss-batch': { type: 'string' },
    'rss-concurrency': { type: 'string' },
    'rss-workers': { type: 'string' },
    certs: { type: 'string' },
    revoked: { type: 'string' },
    'start-runs': { type: 'string' },
    'restart-kills': { type: 'string' },
    'copy-certs': { type: 'string' },
    'http01-port': { type: 'string', default: '80' },
    'account-key': { type: 'string', default: 'ec256' },
    markdown: { type: 'boolean', default: false },
    from: { type: 'string' },
    out: { type: 'string', default: path.join(REPO, 'bench', 'results') },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}
if (opt.from) {
  console.log(formatResult(JSON.parse(readFileSync(opt.from, 'utf8')), { markdown: opt.markdown }));
  process.exit(0);
}
const quick = opt.quick;
const pick = (name, full, small) => Number(opt[name] ?? (quick ? small : full));
const cpus = cpuSplit();
/**
 * Which loads run: pinned (client on its CPU, servers on the rest) and/or unpinned. --quick stays
 * unpinned (CI time) unless --pinned; asked-for pinning on a machine that cannot pin is a failure.
 */
function pinningModes() {
  if (opt['no-pinned'] || opt['unpinned-only']) return { pinned: false, unpinned: true };
  if (opt['pinned-only']) return { pinned: true, unpinned: false };
  if (opt.pinned) return { pinned: true, unpinned: true };
  return { pinned: !quick && defaultPinned({ split: cpus }), unpinned: true };
}
const modes = pinningModes();
if (modes.pinned && !cpus.split) {
  console.error(`bench: pinned loads asked for but not possible: ${cpus.reason}`);
  process.exit(1);
}
// C=1: 1,000 issuances, not 200. certmint's first ~100 flows after a 5-issuance warm-up ran
// ~10-20 % slower while V8 optimizes the request path (bench/timeline.mjs, pinned: p50 of flows
// 1-200 13.4, 12.0, 14.9 ms against 12.1, 10.7, 13.5 for flows 201-600 of the same runs), so a
// 200-issuance median measured mostly that; and a C=1 load of 200 lasts ~4 s, which a neighbour's
// burst on a shared VM covers whole.
const settings = {
  loads: (opt.loads ?? (quick ? '1:20,4:40' : '1:1000,8:1000,32:2000')).split(',').filter((s) => s !== '' && s !== 'none').map((s) => {
    const [c, n] = s.split(':').map(Number);
    if (!(c >= 1 && n >= 1)) throw new Error(`--loads: "${s}" is not C:N`);
    return { c, n };
  }),
  stepCa: !opt['no-step-ca'] && (!quick || opt['with-step-ca']),
  // Asked for: a missing PostgreSQL or haproxy is a failure. By default: run when installed.
  postgres: opt['no-postgres'] ? false : opt.postgres || opt['with-postgres'] ? 'required' : !quick && postgresUnavailable() === null ? 'if-installed' : false,
  pgPoolSize: Number(opt['pg-pool-size']),
  hsm: !opt['no-hsm'],
  // 100: a server that has run a while, as one in service has (V8 has optimized the request path).
  warmup: Number(opt.warmup ?? (quick ? 5 : 100)),
  c1Rounds: pick('c1-rounds', 5, 0),
  c1RoundIssuances: pick('c1-round-issuances', 300, 20),
  rssIssuances: pick('rss-issuances', 20000, 300),
  rssBatch: pick('rss-batch', 5000, 100),
  rssConcurrency: pick('rss-concurrency', 8, 4),
  rssWorkers: pick('rss-workers', 1, 1),
  certs: pick('certs', 1_000_000, 20_000),
  revoked: pick('revoked', 100_000, 2_000),
  startRuns: pick('start-runs', 9, 3),
  restartKills: pick('restart-kills', 6, 2),
  copyCerts: pick('copy-certs', 20_000, 2_000),
  http01Port: Number(opt['http01-port']),
  pinned: modes.pinned,
  unpinned: modes.unpinned,
  cpuSplit: cpus.split,
  profile: opt.profile,
  profileIssuances: pick('profile-issuances', 1000, 100),
  // ECDSA P-256 account keys (lego's default): with RSA-2048 (cert-manager's) the Go client's own
  // signing takes a core at ~100 issuances/s on a 2-core machine, and both servers then measure the client.
  accountKey: opt['account-key'],
  // One Go net/http listener serves the key authorizations of all C workers from a map. A
  // validation is one small GET on loopback; at the rates measured here it costs microseconds,
  // so the listener is never the bottleneck, and step-ca and certmint are fetched from the same one.
  http01Listener: 'shared by all workers (acmego -http01-listen); one small loopback GET per issuance, never the bottleneck, same for both servers',
};

const log = (msg) => console.error(`bench: ${msg}`);
const workDir = mkdtempSync(path.join(os.tmpdir(), 'certmint-bench-run-'));
const failures = [];
let names = 0;
/** A name template no earlier run used, so no authorization is ever reused. */
const nameTemplate = (label) => `${label}-${++names}-w%d-i%d.load.test`;

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (isStopping()) return;
    log(`${signal}: stopping everything started`);
    void cleanup().finally(() => {
      if (!opt.keep) rmSync(workDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

/** Runs a step; a failure is recorded and the run goes on with the next step. */
async function step(name, fn) {
  if (isStopping()) return undefined;
  try {
    return await fn();
  } catch (err) {
    failures.push(`${name}: ${err.message.split('\n').slice(0, 6).join(' | ')}`);
    log(`${name} FAILED: ${err.message}`);
    return undefined;
  }
}

function checkLoad(server, r) {
  if (r.errors > 0) failures.push(`${server} C=${r.c} N=${r.n}: ${r.errors} errors, first: ${r.first_error}`);
  const perIssuance = (ms) => (typeof ms === 'number' && r.ok > 0 ? (ms / r.ok).toFixed(2) : '–');
  const more = [['postgres', r.postgres_cpu_ms], ['haproxy', r.haproxy_cpu_ms]].filter(([, ms]) => ms !== undefined).map(([name, ms]) => `, ${name} ${perIssuance(ms)}`).join('');
  const spread = r.responses_certmint_1 !== undefined ? `; responses per instance ${r.responses_certmint_1} / ${r.responses_certmint_2}` : '';
  // The closing sample's scrape is one of the connections counted.
  const connections = Number.isFinite(r.connections) && r.ok > 0 ? `; connections accepted per issuance ${((r.connections - 1) / r.ok).toFixed(2)}` : '';
  log(`${server} C=${r.c} N=${r.n}: ${r.per_sec}/s p50 ${r.p50_ms} ms p99 ${r.p99_ms} ms errors ${r.errors}; CPU ms/issuance: server ${perIssuance(r.server_cpu_ms)}${more}, client ${perIssuance(r.cpu_ms)}${spread}${connections}`);
  return r;
}

/**
 * CPU so far (ms) of certmint processes: all threads of each and of its descendants (workers), and
 * their JavaScript (main) threads.
 */
function certmintCpu(pids) {
  return { server_cpu_ms: pids.reduce((sum, pid) => sum + treeCpuMs(pid), 0), server_main_thread_cpu_ms: pids.reduce((sum, pid) => sum + cpuMsOf(pid, pid), 0) };
}

/**
 * Warm-up (untimed), then every load against one server. `target.sample()` returns counters (CPU
 * ms of each process group, responses per instance) whose growth over a load is stored with it.
 */
async function runLoads(server, target, { clientCpus } = {}) {
  const results = new Map();
  if (settings.warmup > 0) {
    const w = await runLoad(`${server}-warmup`, target, { c: 1, n: settings.warmup, clientCpus, check: false });
    if (w.errors > 0) throw new Error(`${server} warm-up: ${w.errors} errors, first: ${w.first_error}`);
  }
  for (const { c, n } of settings.loads) results.set(c, await runLoad(server, target, { c, n, clientCpus }));
  return results;
}

/**
 * One load of `n` issuances at `c` against one server. The server's CPU over the whole client run
 * (its workers' account registrations included); the client reports its own over the timed part.
 * For certmint also its JavaScript thread. `check: false` (warm-ups) leaves errors to the caller.
 */
async function runLoad(server, target, { c, n, clientCpus, check = true }) {
  const listen = `127.0.0.1:${settings.http01Port}`;
  const before = await target.sample();
  const r = await runAcmegoLoad({ ...target, n, c, listen, accountKey: settings.accountKey, clientCpus, nameTemplate: nameTemplate(`${server}-c${c}`) });
  const after = await target.sample();
  for (const [k, v] of Object.entries(after)) r[k] = Math.round(v - before[k]);
  return check ? checkLoad(server, r) : r;
}

/**
 * A certmint on a fresh data dir, validating through its own challtestsrv; with `ledger` on that
 * PostgreSQL database, with `copyCaFrom` on the CA of an instance already started on it.
 */
async function freshCertmint(label, dns, { ledger, port, baseUrl, copyCaFrom, extraLines, workers, cpus: serverCpus } = {}) {
  const dir = path.join(workDir, label);
  const dataDir = path.join(dir, 'data');
  mkdirSync(dir);
  // Instances on one ledger sign with one CA: the first one creates it, the others get a copy.
  if (copyCaFrom) cpSync(path.join(copyCaFrom, 'ca'), path.join(dataDir, 'ca'), { recursive: true });
  const configFile = await writeCertmintConfig(dir, { dataDir, dnsAddress: dns.dnsAddress, http01Port: settings.http01Port, port, baseUrl, ledger, extraLines, workers });
  const server = await startCertmint(configFile, { logFile: path.join(dir, 'serve.log'), cpus: serverCpus });
  const caBundle = path.join(dataDir, 'ca', 'root.pem');
  const metricsUrl = new URL('/metrics', server.directoryUrl);
  return { ...server, configFile, dir, dataDir, caBundle, sample: async () => ({ ...certmintCpu([server.pid]), connections: await acceptedConnections(metricsUrl, caBundle) }) };
}

/**
 * certmint_http_connections_total of a server (over TLS, each one a full handshake): how many
 * connections a load made it accept. The scrape's own connection is counted too (one per sample).
 */
function acceptedConnections(url, caBundle) {
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, { ca: readFileSync(caBundle), agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.once('end', () => resolve(Number(/^certmint_http_connections_total (\S+)$/m.exec(body)?.[1] ?? NaN)));
    });
    req.once('timeout', () => req.destroy(new Error(`${url} did not answer`)));
    req.once('error', reject);
  });
}

/** What bench/fair-loads.mjs and bench/postgres-loads.mjs need of this run. */
const fairContext = (dns) => ({ settings, log, step, runLoads, runLoad, freshCertmint, certmintCpu, workDir, dns });

/**
 * RSS of certmint's processes: the server and, with server.workers > 1, its primary and every worker
 * (issue 27 asks ≤ 200 MB per process). rssMb/peakRssMb are the largest process's; `processes` each one's.
 */
function certmintMemory(pid) {
  const processes = [];
  for (const p of processTree(pid)) {
    try {
      processes.push({ pid: p, ...memoryOf(p) });
    } catch {
      // Exited between listing and reading (a worker being replaced): not part of this sample.
    }
  }
  return {
    rssMb: Math.max(...processes.map((p) => p.rssMb)),
    peakRssMb: Math.max(...processes.map((p) => p.peakRssMb)),
    totalRssMb: +processes.reduce((sum, p) => sum + p.rssMb, 0).toFixed(1),
    processes,
  };
}

/** Issues `total` certificates in batches, sampling the server's RSS (every process of it) before and after each. */
async function rssRun(dns) {
  const workers = settings.rssWorkers;
  const server = await freshCertmint('rss', dns, workers > 1 ? { workers } : {});
  const samples = [{ issued: 0, ...certmintMemory(server.pid) }];
  let issued = 0;
  while (issued < settings.rssIssuances) {
    const n = Math.min(settings.rssBatch, settings.rssIssuances - issued);
    const r = await runAcmegoLoad({ directoryUrl: server.directoryUrl, caBundle: server.caBundle, n, c: settings.rssConcurrency, listen: `127.0.0.1:${settings.http01Port}`, accountKey: settings.accountKey, nameTemplate: nameTemplate('rss') });
    if (r.errors > 0) failures.push(`RSS run batch at ${issued}: ${r.errors} errors, first: ${r.first_error}`);
    issued += r.ok;
    await delay(500); // let the last responses' buffers go
    samples.push({ issued, ...certmintMemory(server.pid), batchPerSec: r.per_sec, batchP50Ms: r.p50_ms, batchErrors: r.errors });
    const each = samples.at(-1).processes.map((p) => p.rssMb).join(' / ');
    log(`RSS after ${issued} issuances: ${samples.at(-1).rssMb} MB${workers > 1 ? ` the largest of ${each} (primary / workers)` : ''} (batch: ${r.per_sec}/s, p50 ${r.p50_ms} ms)`);
    if (r.ok === 0) break;
  }
  await server.stop();
  // Growth over the run after the first batch (start-up and JIT warm-up fill the first one).
  const first = samples[1] ?? samples[0];
  const last = samples.at(-1);
  return {
    server: 'certmint',
    concurrency: settings.rssConcurrency,
    batch: settings.rssBatch,
    workers,
    samples,
    growthMb: +(last.rssMb - first.rssMb).toFixed(1),
    growthPercent: +(((last.rssMb - first.rssMb) / first.rssMb) * 100).toFixed(1),
  };
}

async function main() {
  const at = new Date();
  /** Per setup (report.mjs SETUPS: certmint, certmint-pg, certmint-pg-2, step-ca), its loads by C. */
  const loads = Object.fromEntries(SETUPS.map((s) => [s.name, new Map()]));
  const pinnedLoads = { certmint: new Map(), 'step-ca': new Map() };
  const notPinned = !settings.pinned ? (cpus.reason ?? (quick ? '--quick runs unpinned unless --pinned' : 'asked for with --no-pinned')) : null;
  const fair = { pinning: { split: settings.pinned ? settings.cpuSplit : null, reason: notPinned, verified: {} }, rows: [], scaling: null, startup: null };
  const result = { at: at.toISOString(), quick, machine: machine(), settings, fair, issuance: [], certmintRssAfterLoadsMb: null, postgres: null, stepCa: null, hsm: null, profile: null, rss: null, ledger: null, overdue: null, console: null, consolePostgres: null, restarts: null, ledgerCopy: null, targets: [], failures };
  const startup = (mode) => (fair.startup ??= { runs: settings.startRuns, mode, certmint: null, stepCa: null });
  const unpinnedLoads = settings.unpinned && settings.loads.length > 0;

  const acmego = await step('build acmego', async () => buildAcmego());
  let dns;
  if (acmego) dns = await step('start pebble-challtestsrv', () => startChallTestSrv(workDir));

  if (dns && unpinnedLoads) {
    await step('certmint loads', async () => {
      log('certmint: fresh data dir, loads ' + settings.loads.map((l) => `C=${l.c} N=${l.n}`).join(', '));
      const server = await freshCertmint('loads', dns);
      try {
        for (const [c, r] of await runLoads('certmint', server)) loads.certmint.set(c, r);
        result.certmintRssAfterLoadsMb = memoryOf(server.pid).rssMb;
      } finally {
        await server.stop();
      }
      if (settings.startRuns > 0) startup('unpinned').certmint = await certmintStarts(fairContext(dns), server);
    });
  }

  if (dns && settings.hsm && unpinnedLoads) {
    const missing = softHsmUnavailable();
    result.hsm = { skipped: missing };
    if (missing) log(`HSM row skipped: ${missing}`);
    else {
      await step('certmint-hsm loads', async () => {
        log('certmint-hsm: fresh data dir, intermediate key on a fresh SoftHSM token');
        const server = await freshCertmint('hsm', dns, { extraLines: softHsmCa(path.join(workDir, 'softhsm')) });
        try {
          for (const [c, r] of await runLoads('certmint-hsm', server)) loads['certmint-hsm'].set(c, r);
        } finally {
          await server.stop();
        }
      });
    }
  }

  if (dns && settings.postgres && unpinnedLoads) {
    const cluster = await step('start PostgreSQL', async () => {
      log('PostgreSQL: throw-away cluster (initdb, fsync on)');
      return startPostgres();
    });
    if (cluster) {
      result.postgres = { version: cluster.version, fsync: 'on', synchronousCommit: 'on', poolSize: settings.pgPoolSize, pg1RssAfterLoadsMb: null, pg2RssAfterLoadsMb: null, skipped: null };
      await step('certmint-pg loads', async () => {
        log('certmint-pg: one instance on PostgreSQL, fresh database');
        const pg1 = await postgresLoads(fairContext(dns), cluster);
        for (const [c, r] of pg1.loads) loads['certmint-pg'].set(c, r);
        result.postgres.pg1RssAfterLoadsMb = pg1.rssAfterLoadsMb;
      });
      const noHaproxy = haproxyUnavailable();
      if (noHaproxy && settings.postgres === 'if-installed') {
        log(`certmint-pg-2 skipped: ${noHaproxy}`);
        result.postgres.skipped = `certmint-pg-2: ${noHaproxy}`;
      } else {
        await step('certmint-pg-2 loads', async () => {
          if (noHaproxy) throw new Error(noHaproxy);
          log('certmint-pg-2: two instances on one PostgreSQL database behind haproxy');
          const pg2 = await balancedLoads(fairContext(dns), cluster);
          for (const [c, r] of pg2.loads) loads['certmint-pg-2'].set(c, r);
          result.postgres.pg2RssAfterLoadsMb = pg2.rssAfterLoadsMb;
        });
      }
      await cluster.stop();
    }
  }

  if (acmego && settings.stepCa && unpinnedLoads) {
    await step('step-ca loads', async () => {
      log('step-ca: starting (bench/step-ca.sh start; the first build takes minutes)');
      const peer = await startStepCa();
      result.stepCa = { startSeconds: peer.startSeconds, directoryUrl: peer.directoryUrl };
      try {
        for (const [c, r] of await runLoads('step-ca', { ...peer, sample: async () => ({ server_cpu_ms: treeCpuMs(peer.pid) }) })) loads['step-ca'].set(c, r);
        result.stepCa.rssAfterLoadsMb = memoryOf(peer.pid).rssMb;
      } finally {
        peer.stop();
      }
      if (settings.startRuns > 0) startup('unpinned').stepCa = await stepCaStarts(fairContext());
    });
  }

  // Issue 27: certmint's workers side by side on the unpinned loads, then the pinned loads.
  if (dns && unpinnedLoads && !quick) fair.scaling = await scalingLoads(fairContext(dns));
  if (settings.pinned && settings.loads.length > 0) await pinnedRuns(fairContext(dns), { acmego, fair, pinnedLoads, startup });
  if (dns && settings.stepCa && settings.c1Rounds > 0) {
    for (const [mode, on] of [['unpinned', settings.unpinned], ['pinned', settings.pinned]]) {
      if (!on) continue;
      const cpus = mode === 'pinned' ? { cpus: settings.cpuSplit.servers, clientCpus: settings.cpuSplit.client } : {};
      const rounds = await step(`C=1 alternating rounds (${mode})`, () => alternatingRounds(fairContext(dns), { mode, ...cpus }));
      if (rounds) (fair.alternating ??= []).push(rounds);
    }
  }
  for (const [mode, byServer] of [['pinned', pinnedLoads], ['unpinned', loads]]) {
    for (const { c, n } of settings.loads) {
      const certmint = byServer.certmint.get(c);
      const stepCa = byServer['step-ca'].get(c);
      if (certmint || stepCa) fair.rows.push(fairRow(mode, c, n, certmint, stepCa));
    }
  }

  if (dns && settings.profile) {
    result.profile =
      (await step('profile', () =>
        profileCertmint({ dir: path.join(workDir, 'profile'), dns, n: settings.profileIssuances, c: 32, cpus: settings.pinned ? settings.cpuSplit : null, http01Port: settings.http01Port, accountKey: settings.accountKey, nameTemplate: nameTemplate('profile'), outDir: opt.out, log }),
      )) ?? null;
  }

  for (const { c, n } of settings.loads) {
    const atC = Object.fromEntries(Object.entries(loads).map(([name, byC]) => [name, byC.get(c)]));
    if (Object.values(atC).some((r) => r !== undefined)) result.issuance.push(issuanceRow(c, n, atC));
  }

  if (dns && settings.rssIssuances > 0) {
    log(`RSS run: ${settings.rssIssuances} issuances in batches of ${settings.rssBatch}, C=${settings.rssConcurrency}`);
    result.rss = (await step('RSS run', () => rssRun(dns))) ?? null;
  }
  if (dns && settings.restartKills > 0) {
    log(`kill -9 restarts: ${settings.restartKills} kills under a C=16 load`);
    result.restarts =
      (await step('kill -9 restarts', () =>
        measureKill9Restarts({ dir: path.join(workDir, 'kill9'), dns, acmego, http01Port: settings.http01Port, kills: settings.restartKills, accountKey: settings.accountKey, nameTemplate: nameTemplate('kill9'), log }),
      )) ?? null;
  }
  await dns?.stop();

  // Needs only PostgreSQL installed (not --postgres): CI's --quick run keeps this code working.
  if (settings.copyCerts > 0) {
    result.ledgerCopy = (await step('ledger copy', () => measureLedgerCopy({ dir: path.join(workDir, 'copy'), certs: settings.copyCerts, log }))) ?? null;
  }

  if (settings.certs > 0) {
    result.ledger =
      (await step('ledger scale', () => {
        log(`ledger scale: ${settings.certs} certificates, ${settings.revoked} revoked`);
        return measureLedgerScale({ certs: settings.certs, revoked: settings.revoked, startRuns: settings.startRuns, log });
      })) ?? null;
  }

  // Issue 22: the renewal-overdue queries on the same number of certificates, SQLite and (when installed) PostgreSQL.
  if (settings.certs > 0) {
    result.overdue = (await step('renewal-overdue queries', () => measureOverdueQueries({ certs: settings.certs, log }))) ?? null;
  }

  // Issue 25: the console's certificate list and its API call, the overview figures and the assets, on the same number of certificates (SQLite; PostgreSQL when installed).
  if (settings.certs > 0) {
    result.console = (await step('console and admin API', () => measureConsole({ certs: settings.certs, log }))) ?? null;
    result.consolePostgres = (await step('console and admin API on PostgreSQL', () => measureConsole({ certs: settings.certs, log, backend: 'postgres' }))) ?? null;
  }

  if (isStopping()) return 130; // interrupted: no half result in latest.json
  result.targets = checkTargets(result);
  mkdirSync(opt.out, { recursive: true });
  const json = JSON.stringify(result, null, 2);
  const stamp = at.toISOString().replace(/[:.]/g, '-');
  const file = path.join(opt.out, `bench-${stamp}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, json);
  writeFileSync(path.join(opt.out, 'latest.json'), json);
  console.log(formatResult(result, { markdown: opt.markdown }));
  console.log(`\nJSON: ${path.relative(process.cwd(), file)} and ${path.relative(process.cwd(), path.join(opt.out, 'latest.json'))}`);
  return failures.length === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`FAILED: ${err.stack ?? err.message}`);
} finally {
  await cleanup();
  if (opt.keep) log(`kept ${workDir}`);
  else rmSync(workDir, { recursive: true, force: true });
}
process.exitCode = code;
