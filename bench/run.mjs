// `npm run bench`: certmint against step-ca with the Go x/crypto/acme client in load mode, the RSS
// of certmint over many issuances, and the ledger at scale; one table, also written as JSON.
// `npm run bench -- --quick` is the smoke run CI keeps working. See README "Benchmark".
//
// Exit code: 1 when the benchmark itself broke (a step failed or a load had errors), never
// because a target was missed: machine noise must not fail CI.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { measureLedgerScale } from './ledger-crl.mjs';
import { REPO, buildAcmego, cleanup, cpuMsOf, isStopping, memoryOf, runAcmegoLoad, startCertmint, startChallTestSrv, startStepCa, writeCertmintConfig } from './processes.mjs';
import { checkTargets, formatResult, issuanceRow } from './report.mjs';

const HELP = `Usage: npm run bench -- [options]
  --quick                 smoke run (< ~60 s): certmint only, C=1 and C=4, small N, small ledger
  --with-step-ca          with --quick: run step-ca too
  --no-step-ca            skip step-ca
  --loads C:N,...         issuance loads (default 1:200,8:1000,32:2000; quick 1:20,4:40; none skips them)
  --warmup N              untimed issuances per server before its loads (default 5)
  --rss-issuances N       issuances of the RSS run (default 20000; quick 300; 0 skips it)
  --rss-batch N           issuances between RSS samples (default 5000; quick 100)
  --rss-concurrency C     workers of the RSS run (default 8; quick 4)
  --certs N --revoked N   ledger scale (default 1000000 / 100000; quick 20000 / 2000; --certs 0 skips it)
  --start-runs N          server starts timed on that ledger (default 5; quick 3)
  --http01-port P         port certmint and step-ca validate http-01 on, acmego listens on (default 80)
  --account-key K         the load client's account keys: ec256 (default, lego's) or rsa2048 (cert-manager's)
  --markdown              print the table as Markdown (for the README)
  --from FILE             print the table of an earlier result (e.g. bench/results/latest.json), run nothing
  --out DIR               results directory (default bench/results)
  --keep                  keep the temporary data dirs and logs`;

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'with-step-ca': { type: 'boolean', default: false },
    'no-step-ca': { type: 'boolean', default: false },
    loads: { type: 'string' },
    warmup: { type: 'string', default: '5' },
    'rss-issuances': { type: 'string' },
    'rss-batch': { type: 'string' },
    'rss-concurrency': { type: 'string' },
    certs: { type: 'string' },
    revoked: { type: 'string' },
    'start-runs': { type: 'string' },
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
const settings = {
  loads: (opt.loads ?? (quick ? '1:20,4:40' : '1:200,8:1000,32:2000')).split(',').filter((s) => s !== '' && s !== 'none').map((s) => {
    const [c, n] = s.split(':').map(Number);
    if (!(c >= 1 && n >= 1)) throw new Error(`--loads: "${s}" is not C:N`);
    return { c, n };
  }),
  stepCa: !opt['no-step-ca'] && (!quick || opt['with-step-ca']),
  warmup: Number(opt.warmup),
  rssIssuances: pick('rss-issuances', 20000, 300),
  rssBatch: pick('rss-batch', 5000, 100),
  rssConcurrency: pick('rss-concurrency', 8, 4),
  certs: pick('certs', 1_000_000, 20_000),
  revoked: pick('revoked', 100_000, 2_000),
  startRuns: pick('start-runs', 5, 3),
  http01Port: Number(opt['http01-port']),
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
  log(`${server} C=${r.c} N=${r.n}: ${r.per_sec}/s p50 ${r.p50_ms} ms p99 ${r.p99_ms} ms errors ${r.errors}; CPU ms/issuance: server ${perIssuance(r.server_cpu_ms)}, client ${perIssuance(r.cpu_ms)}`);
  return r;
}

/** Warm-up (untimed), then every load against one server. */
async function runLoads(server, target) {
  const listen = `127.0.0.1:${settings.http01Port}`;
  const results = new Map();
  if (settings.warmup > 0) {
    const w = await runAcmegoLoad({ ...target, n: settings.warmup, c: 1, listen, accountKey: settings.accountKey, nameTemplate: nameTemplate(`${server}-warmup`) });
    if (w.errors > 0) throw new Error(`${server} warm-up: ${w.errors} errors, first: ${w.first_error}`);
  }
  for (const { c, n } of settings.loads) {
    // The server's CPU over the whole client run (its workers' account registrations included);
    // the client reports its own over the timed part. For certmint also its JavaScript thread.
    const before = { all: cpuMsOf(target.pid), main: server === 'certmint' ? cpuMsOf(target.pid, target.pid) : undefined };
    const r = await runAcmegoLoad({ ...target, n, c, listen, accountKey: settings.accountKey, nameTemplate: nameTemplate(`${server}-c${c}`) });
    r.server_cpu_ms = Math.round(cpuMsOf(target.pid) - before.all);
    if (before.main !== undefined) r.server_main_thread_cpu_ms = Math.round(cpuMsOf(target.pid, target.pid) - before.main);
    results.set(c, checkLoad(server, r));
  }
  return results;
}

/** A certmint on a fresh data dir, validating through its own challtestsrv. */
async function freshCertmint(label, dns) {
  const dir = path.join(workDir, label);
  mkdirSync(dir);
  const configFile = await writeCertmintConfig(dir, { dataDir: path.join(dir, 'data'), dnsAddress: dns.dnsAddress, http01Port: settings.http01Port });
  const server = await startCertmint(configFile, { logFile: path.join(dir, 'serve.log') });
  return { ...server, caBundle: path.join(dir, 'data', 'ca', 'root.pem') };
}

/** Issues `total` certificates in batches, sampling the server's RSS before and after each. */
async function rssRun(dns) {
  const server = await freshCertmint('rss', dns);
  const samples = [{ issued: 0, ...memoryOf(server.pid) }];
  let issued = 0;
  while (issued < settings.rssIssuances) {
    const n = Math.min(settings.rssBatch, settings.rssIssuances - issued);
    const r = await runAcmegoLoad({ directoryUrl: server.directoryUrl, caBundle: server.caBundle, n, c: settings.rssConcurrency, listen: `127.0.0.1:${settings.http01Port}`, accountKey: settings.accountKey, nameTemplate: nameTemplate('rss') });
    if (r.errors > 0) failures.push(`RSS run batch at ${issued}: ${r.errors} errors, first: ${r.first_error}`);
    issued += r.ok;
    await delay(500); // let the last responses' buffers go
    samples.push({ issued, ...memoryOf(server.pid), batchPerSec: r.per_sec, batchP50Ms: r.p50_ms, batchErrors: r.errors });
    log(`RSS after ${issued} issuances: ${samples.at(-1).rssMb} MB (batch: ${r.per_sec}/s, p50 ${r.p50_ms} ms)`);
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
    samples,
    growthMb: +(last.rssMb - first.rssMb).toFixed(1),
    growthPercent: +(((last.rssMb - first.rssMb) / first.rssMb) * 100).toFixed(1),
  };
}

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: REPO }).trim();
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  let debian = null;
  try {
    debian = readFileSync('/etc/debian_version', 'utf8').trim();
  } catch {
    // not Debian
  }
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryGb: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: `${os.type()} ${os.release()}`,
    debian,
    node: process.version,
    go: sh('go', ['version']),
    stepCaPackage: sh('dpkg-query', ['-W', '-f=${Version}', 'golang-github-smallstep-certificates-dev']),
    gitCommit: sh('git', ['rev-parse', '--short=12', 'HEAD']),
    gitDirty: (sh('git', ['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
  };
}

async function main() {
  const at = new Date();
  const certmintLoads = new Map();
  const stepCaLoads = new Map();
  const result = { at: at.toISOString(), quick, machine: machine(), settings, issuance: [], certmintRssAfterLoadsMb: null, stepCa: null, rss: null, ledger: null, targets: [], failures };

  const acmego = await step('build acmego', async () => buildAcmego());
  let dns;
  if (acmego) dns = await step('start pebble-challtestsrv', () => startChallTestSrv(workDir));

  if (dns && settings.loads.length > 0) {
    await step('certmint loads', async () => {
      log('certmint: fresh data dir, loads ' + settings.loads.map((l) => `C=${l.c} N=${l.n}`).join(', '));
      const server = await freshCertmint('loads', dns);
      try {
        for (const [c, r] of await runLoads('certmint', server)) certmintLoads.set(c, r);
        result.certmintRssAfterLoadsMb = memoryOf(server.pid).rssMb;
      } finally {
        await server.stop();
      }
    });
  }

  if (acmego && settings.stepCa && settings.loads.length > 0) {
    await step('step-ca loads', async () => {
      log('step-ca: starting (../shared/peers/step-ca.sh start; the first build takes minutes)');
      const peer = await startStepCa();
      result.stepCa = { startSeconds: peer.startSeconds, directoryUrl: peer.directoryUrl };
      try {
        for (const [c, r] of await runLoads('step-ca', peer)) stepCaLoads.set(c, r);
        result.stepCa.rssAfterLoadsMb = memoryOf(peer.pid).rssMb;
      } finally {
        peer.stop();
      }
    });
  }

  for (const { c, n } of settings.loads) {
    if (certmintLoads.has(c) || stepCaLoads.has(c)) result.issuance.push(issuanceRow(c, n, certmintLoads.get(c) ?? null, stepCaLoads.get(c)));
  }

  if (dns && settings.rssIssuances > 0) {
    log(`RSS run: ${settings.rssIssuances} issuances in batches of ${settings.rssBatch}, C=${settings.rssConcurrency}`);
    result.rss = (await step('RSS run', () => rssRun(dns))) ?? null;
  }
  await dns?.stop();

  if (settings.certs > 0) {
    result.ledger =
      (await step('ledger scale', () => {
        log(`ledger scale: ${settings.certs} certificates, ${settings.revoked} revoked`);
        return measureLedgerScale({ certs: settings.certs, revoked: settings.revoked, startRuns: settings.startRuns, log });
      })) ?? null;
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
