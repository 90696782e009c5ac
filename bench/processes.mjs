// The processes a benchmark run starts: pebble-challtestsrv as DNS, `certmint serve`, step-ca (via
// bench/step-ca.sh) and the Go load client (test/interop/acmego). Everything started is
// registered with `cleanup`, which stops it on a normal end, an error or Ctrl-C.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cpusAllowedList, pinnedCommand, statFields, ticksToMs } from './pinning.mjs';

export { ticksToMs };

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CERTMINT_MAIN = path.join(REPO, 'dist', 'cli', 'main.js');
/**
 * tsc's unbundled entry (scripts/build-server.mjs keeps it): the same server, its modules loaded one
 * by one, so a CPU profile names each source file where the bundle shows one URL.
 */
export const CERTMINT_MODULES_MAIN = path.join(REPO, 'dist', 'cli', 'main-modules.js');
const ACMEGO = path.join(REPO, 'test', 'interop', 'bin', 'acmego');

/** Stop actions, newest first; run once, on success, failure or signal. */
const stops = [];
let stopping = false;
/** Registers a stop action; once cleanup has begun (Ctrl-C), whatever starts is stopped at once. */
export function onCleanup(stop) {
  if (stopping) void Promise.resolve().then(stop).catch(() => {});
  else stops.unshift(stop);
}
export function isStopping() {
  return stopping;
}
export async function cleanup() {
  stopping = true;
  while (stops.length > 0) {
    const stop = stops.shift();
    try {
      await stop();
    } catch (err) {
      console.error(`bench: cleanup: ${err.message}`);
    }
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A child whose output is kept in a log file and a short tail, and which is killed at cleanup. */
export function spawnLogged(command, args, { logFile, env, onLine } = {}) {
  const child = spawn(command, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = logFile ? createWriteStream(logFile) : undefined;
  let tail = '';
  let pending = '';
  const keep = (chunk) => {
    log?.write(chunk);
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-4000);
    if (onLine) {
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) onLine(line);
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      tail += `\n${err.message}`;
      resolve({ code: -1, signal: null });
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
    log?.end();
  });
  const stop = async () => {
    if (done) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  return { child, exited, stop, tail: () => tail, isDone: () => done };
}

/** pebble-challtestsrv answering every A query with 127.0.0.1, on free ports. */
export async function startChallTestSrv(workDir) {
  const dnsPort = await freePort();
  const mgmtPort = await freePort();
  const p = spawnLogged(
    'pebble-challtestsrv',
    ['-http01', '', '-https01', '', '-tlsalpn01', '', '-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${mgmtPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
    { logFile: path.join(workDir, 'challtestsrv.log') },
  );
  onCleanup(p.stop);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (p.isDone()) throw new Error(`pebble-challtestsrv exited: ${p.tail()}`);
    try {
      await httpStatus(`http://127.0.0.1:${mgmtPort}/`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`pebble-challtestsrv did not answer: ${p.tail()}`);
      await delay(25);
    }
  }
  return { dnsAddress: `127.0.0.1:${dnsPort}`, stop: p.stop };
}

/** Any HTTP answer resolves (challtestsrv's management root is a 404); no answer rejects. */
function httpStatus(url) {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
  });
}

/** Environment for certmint children: none of the caller's CERTMINT_* settings, log level info. */
export function certmintEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CERTMINT_')) env[k] = v;
  return { ...env, CERTMINT_LOG_LEVEL: 'info', ...extra };
}

/**
 * Writes a config for `certmint serve` on `port` (a free one unless given): TLS, validation through
 * `dnsAddress` on `http01Port`, rate limits off (a load run would hit them otherwise); with
 * `ledger: {url, poolSize}` on that PostgreSQL ledger instead of SQLite in dataDir; with `workers`,
 * `server.workers` set to it; `extraLines` are appended (top-level YAML, e.g. the `ca:` section of
 * the HSM row).
 */
export async function writeCertmintConfig(dir, { dataDir, dnsAddress, http01Port, port, baseUrl, ledger, extraLines = [], workers }) {
  port ??= await freePort();
  const file = path.join(dir, 'certmint.yaml');
  writeFileSync(
    file,
    [
      'server:',
      `  listen: "127.0.0.1:${port}"`,
      // Behind a load balancer, every instance names the balancer's URL in its directory.
      ...(baseUrl ? [`  baseUrl: ${JSON.stringify(baseUrl)}`] : []),
      // Issue 27's scaling rows: only when the build knows the key (bench/fair.mjs workersSupported).
      ...(workers !== undefined ? [`  workers: ${workers}`] : []),
      '  tls: { enabled: true, hostnames: [localhost, 127.0.0.1] }',
      `dataDir: ${JSON.stringify(dataDir)}`,
      ...(ledger ? ['ledger:', `  url: ${JSON.stringify(ledger.url)}`, `  poolSize: ${ledger.poolSize}`] : []),
      'validation:',
      `  http01Port: ${http01Port}`,
      `  dnsResolvers: [${JSON.stringify(dnsAddress)}]`,
      '  timeout: 10s',
      'limits: { newOrdersPerAccountPerHour: 0, newAccountsPerIpPerHour: 0, pendingAuthorizationsPerAccount: 0, newAuthorizationsPerAccountPerHour: 0 }',
      ...extraLines,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * The options every single-server load script takes (bench/timeline.mjs, wal-frames.mjs,
 * sql-count.mjs): the entry to run (another build's dist/cli/main.js for an A/B), JSON output,
 * the http-01 port; `defaults` adds the script's own (n, c, warmup, ...).
 */
export function loadScriptOptions(defaults = {}) {
  return {
    main: { type: 'string', default: CERTMINT_MAIN },
    json: { type: 'boolean', default: false },
    'http01-port': { type: 'string', default: '80' },
    ...defaults,
  };
}

/**
 * Their set-up: acmego built, a DNS answerer, certmint on a fresh data dir under `dir` (logging to
 * dir/serve.log), http-01 on `http01Port`; with `cpus` (pinning.mjs cpuSplit) the server on its
 * CPUs and the client's on the others. Returns the server and the Go client's target.
 */
export async function startLoadTarget(dir, { main = CERTMINT_MAIN, http01Port = 80, cpus, nodeArgs } = {}) {
  buildAcmego();
  const dns = await startChallTestSrv(dir);
  const dataDir = path.join(dir, 'data');
  const configFile = await writeCertmintConfig(dir, { dataDir, dnsAddress: dns.dnsAddress, http01Port });
  const server = await startCertmint(configFile, { logFile: path.join(dir, 'serve.log'), main: path.resolve(main), cpus: cpus?.servers, nodeArgs });
  const target = { directoryUrl: server.directoryUrl, caBundle: path.join(dataDir, 'ca', 'root.pem'), listen: `127.0.0.1:${http01Port}`, clientCpus: cpus?.client };
  return { server, target, dataDir };
}

/**
 * `node dist/cli/main.js serve --config FILE`, resolved when it logs "ACME directory at" (after
 * its listen() returned: it serves). startMs is spawn → that line. With `cpus`, under
 * `taskset -c cpus` (its workers and threads inherit the affinity); `nodeArgs` go to node
 * (e.g. --cpu-prof); `main` the entry (CERTMINT_MODULES_MAIN for a profile).
 */
export async function startCertmint(configFile, { logFile, timeoutMs = 60_000, cpus, nodeArgs = [], main = CERTMINT_MAIN } = {}) {
  let resolveReady;
  const ready = new Promise((resolve) => (resolveReady = resolve));
  const t0 = performance.now();
  const run = pinnedCommand(cpus, process.execPath, [...nodeArgs, main, 'serve', '--config', configFile]);
  const p = spawnLogged(run.command, run.args, {
    logFile,
    env: certmintEnv(),
    onLine: (line) => {
      const m = /ACME directory at ([^"\s]+)/.exec(line);
      // The server's CPU read as the line arrives: on a shared VM the wall time also holds the
      // time other processes had the CPU; the CPU time of the start is what certmint can change.
      if (m) resolveReady({ directoryUrl: m[1], startMs: performance.now() - t0, startCpuMs: cpuMsOf(p.child.pid) });
    },
  });
  onCleanup(p.stop);
  let timer;
  const result = await Promise.race([
    ready,
    p.exited.then(({ code, signal }) => {
      throw new Error(`certmint serve exited (${code ?? signal}) before it was ready:\n${p.tail()}`);
    }),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`certmint serve did not log "ACME directory at" within ${timeoutMs} ms:\n${p.tail()}`)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  return { ...result, pid: p.child.pid, cpusAllowed: cpusAllowedList(p.child.pid), stop: p.stop, tail: p.tail, exited: p.exited };
}

/** Resident set size and its peak of a process, in MB, from /proc/<pid>/status. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: +(kb('VmRSS') / 1024).toFixed(1), peakRssMb: +(kb('VmHWM') / 1024).toFixed(1) };
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat; with `thread`, of
 * that one thread (/proc/<pid>/task/<tid>/stat: the main thread's tid is the pid).
 */
export function cpuMsOf(pid, thread) {
  const fields = statFields(readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8'));
  return ticksToMs(Number(fields[11]) + Number(fields[12]));
}

/** Builds test/interop/acmego as test/interop/go-client.ts does (GOPATH mode, Debian's x/crypto). */
export function buildAcmego() {
  const gopath = process.env.CERTMINT_GOPATH ?? '/usr/share/gocode';
  mkdirSync(path.dirname(ACMEGO), { recursive: true });
  const tmp = `${ACMEGO}.${process.pid}.tmp`;
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: gopath, GOFLAGS: '', GOPROXY: 'off', GOTOOLCHAIN: 'local' };
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = path.join(tmpdir(), 'certmint-go-build-cache');
  try {
    execFileSync('go', ['build', '-o', tmp, './test/interop/acmego'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    renameSync(tmp, ACMEGO);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`go build of test/interop/acmego failed (needs golang-go and golang-golang-x-crypto-dev): ${err.stderr?.toString().trim() || err.message}`);
  }
  return ACMEGO;
}

/**
 * One `acmego -mode load` run: n issuances over c workers (one account each), the shared http-01
 * listener on `listen`; with `clientCpus`, under `taskset -c clientCpus`. Resolves with its JSON
 * summary line, plus `client_cpus_allowed` (read from /proc right after the spawn) when pinned.
 * With `traceFile`, acmego writes its per-request timeline there (-trace; bench/timeline.mjs).
 */
export function runAcmegoLoad({ directoryUrl, caBundle, n, c, listen, nameTemplate, accountKey = 'ec256', timeoutMs = 3_600_000, clientCpus, traceFile }) {
  if (stopping) return Promise.reject(new Error('stopped'));
  const traceArgs = traceFile ? ['-trace', traceFile] : [];
  const run = pinnedCommand(clientCpus, ACMEGO, ['-mode', 'load', '-directory', directoryUrl, '-ca-bundle', caBundle, '-n', String(n), '-c', String(c), '-http01-listen', listen, '-name-template', nameTemplate, '-account-key', accountKey, ...traceArgs]);
  let allowed;
  return new Promise((resolve, reject) => {
    const child = execFile(run.command, run.args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGINT' }, (err, stdout, stderr) => {
      if (stops.includes(kill)) stops.splice(stops.indexOf(kill), 1);
      const line = stdout.trim().split('\n').pop();
      try {
        const r = JSON.parse(line);
        if (r.mode === 'load') return resolve(clientCpus ? { ...r, client_cpus_allowed: allowed } : r);
      } catch {
        // fall through to the error below
      }
      reject(new Error(`acmego -mode load -n ${n} -c ${c} failed: ${err?.message ?? 'no summary line'}\n${stderr.slice(-2000)}`));
    });
    const kill = async () => {
      child.kill('SIGKILL');
    };
    onCleanup(kill);
    // The forked child has this process's affinity until taskset sets its own and execs acmego:
    // read it once the process is acmego.
    if (clientCpus) {
      const check = (tries) => {
        try {
          if (readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'acmego') return void (allowed = cpusAllowedList(child.pid));
        } catch {
          return void (allowed = null); // exited already (a failed start): the error above says why
        }
        if (tries > 0) setTimeout(() => check(tries - 1), 10);
      };
      check(200);
    }
  });
}

/** The step-ca peer script: bench/step-ca.sh unless STEPCA_SCRIPT says otherwise. */
export const STEP_CA_SCRIPT = process.env.STEPCA_SCRIPT ?? path.join(REPO, 'bench', 'step-ca.sh');
/** Where bench/step-ca.sh keeps step-ca (its STEPCA_HOME default). */
const STEP_CA_HOME = process.env.STEPCA_HOME ?? path.join(tmpdir(), 'certmint-bench', 'step-ca');

/**
 * Starts step-ca with an empty database (as certmint gets a fresh data dir), or on the one it has
 * with `freshDb: false`; the script validates http-01 on port 80 and resolves every name to
 * 127.0.0.1 through its own challtestsrv. With `cpus`, the script runs under `taskset -c cpus`,
 * so step-ca (and its DNS answerer) inherit that affinity. `readyMs`: the script's own spawn →
 * directory answering, without its set-up.
 */
export async function startStepCa({ cpus, freshDb = true } = {}) {
  const stop = () => execFileSync('bash', [STEP_CA_SCRIPT, 'stop'], { stdio: 'ignore' });
  onCleanup(stop);
  stop();
  // A step-ca just killed may still be closing its database: ENOTEMPTY is retried.
  if (freshDb) rmSync(path.join(STEP_CA_HOME, 'db'), { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  const t0 = performance.now();
  const run = pinnedCommand(cpus, 'bash', [STEP_CA_SCRIPT, 'start']);
  const out = await new Promise((resolve, reject) => {
    execFile(run.command, run.args, { encoding: 'utf8', timeout: 1_800_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${STEP_CA_SCRIPT} start failed: ${err.message}\n${stdout.slice(-2000)}${stderr.slice(-2000)}`)) : resolve(stdout),
    );
  });
  if (stopping) stop(); // Ctrl-C while the script started it: its pid files exist only now
  const fields = Object.fromEntries([...out.matchAll(/(DIR|CA|PID|READY_MS)=(\S+)/g)].map((m) => [m[1], m[2]]));
  if (!fields.DIR || !fields.CA || !fields.PID) throw new Error(`step-ca.sh start printed no DIR=/CA=/PID=:\n${out}`);
  const pid = Number(fields.PID);
  return {
    directoryUrl: fields.DIR,
    caBundle: fields.CA,
    pid,
    cpusAllowed: cpusAllowedList(pid),
    startSeconds: +((performance.now() - t0) / 1000).toFixed(1),
    readyMs: fields.READY_MS === undefined ? null : Number(fields.READY_MS),
    stop,
  };
}
