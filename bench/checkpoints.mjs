#!/usr/bin/env node
// Issue 27: where the SQLite ledger's WAL checkpoints run, and how long they hold the thread that
// runs them, per 1,000 issuances. `certmint serve` runs under `strace -f --seccomp-bpf -e
// trace=fsync,fdatasync` (only those calls stop the process; its requests run as usual otherwise),
// on a fresh data dir, after a C=1 warm-up, for one load of the Go client. Of the load's calls:
//
// - a checkpoint that completes ends with a sync of the database file (ledger.sqlite3) and begins
//   with a sync of the WAL on the same thread: its duration is that WAL sync's start → the database
//   sync's end (the frames are copied in between). Counted per thread: the server's event loop (the
//   process's main thread) or another (the checkpoint thread of a build that has one);
// - a WAL sync on the event loop with no database sync after it is the writer restarting the WAL
//   (SQLite syncs the new header): listed apart;
// - WAL syncs on libuv's pool (WalDurability) are not counted.
//
//   flock /tmp/certmint-bench.lock node bench/checkpoints.mjs --builds base=/work/base,this=. \
//     [--rounds 3] [-n 1000] [-c 32] [--pinned] [--keep]
//
// Builds run interleaved (A B A B …). strace adds a little to each sync it stops: read the counts,
// and the durations as relative between builds.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { buildAcmego, certmintEnv, cleanup, onCleanup, runAcmegoLoad, spawnLogged, startChallTestSrv, writeCertmintConfig } from './processes.mjs';
import { cpuSplit, pinnedCommand } from './pinning.mjs';

const { values: opt } = parseArgs({
  options: {
    builds: { type: 'string', default: `this=${process.cwd()}` },
    rounds: { type: 'string', default: '3' },
    n: { type: 'string', short: 'n', default: '1000' },
    c: { type: 'string', short: 'c', default: '32' },
    warmup: { type: 'string', default: '100' },
    pinned: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'http01-port': { type: 'string', default: '80' },
  },
});

const LINE = /^(\d+)\s+(\d\d):(\d\d):(\d\d\.\d+) (?:(fsync|fdatasync)\(\d+<([^>]*)>\)(?: = -?\d+.*<([\d.]+)>| <unfinished \.\.\.>)|<\.\.\. (fsync|fdatasync) resumed>.*<([\d.]+)>)/;

/** The syncs of an strace -f -tt -T -y file: {tid, file, start, end} in seconds of the day. */
export function parseSyncs(text) {
  const open = new Map();
  const syncs = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, tid, h, min, s, call, file, took, resumedCall, resumedTook] = m;
    const at = Number(h) * 3600 + Number(min) * 60 + Number(s);
    if (call && took) syncs.push({ tid: Number(tid), file, start: at, end: at + Number(took) });
    else if (call) open.set(tid, { tid: Number(tid), file, start: at });
    else if (resumedCall && open.has(tid)) {
      const o = open.get(tid);
      open.delete(tid);
      syncs.push({ ...o, end: o.start + Number(resumedTook) });
    }
  }
  return syncs.sort((a, b) => a.start - b.start);
}

const quantile = (xs, q) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] : NaN);
const ms = (x) => +(x * 1000).toFixed(2);

/**
 * Checkpoints (the first WAL sync since the thread's last database sync → the next database sync,
 * on one thread; a round of passes on the checkpoint thread counts once), WAL restart syncs (a WAL
 * sync on the event loop with no database sync after it) and database syncs with no WAL sync
 * before them (the checkpoint thread flushing what an incomplete pass wrote).
 */
export function classify(syncs, mainTid) {
  const pending = new Map();
  const checkpoints = { eventLoop: [], otherThreads: [] };
  const restarts = [];
  let databaseFlushes = 0;
  for (const s of syncs) {
    if (s.file.endsWith('-wal')) {
      if (s.tid === mainTid && pending.has(s.tid)) restarts.push(pending.get(s.tid).end - pending.get(s.tid).start);
      if (s.tid === mainTid || !pending.has(s.tid)) pending.set(s.tid, s);
    } else if (s.file.endsWith('ledger.sqlite3')) {
      const from = pending.get(s.tid);
      pending.delete(s.tid);
      if (from) (s.tid === mainTid ? checkpoints.eventLoop : checkpoints.otherThreads).push(s.end - from.start);
      else databaseFlushes += 1;
    }
  }
  if (pending.has(mainTid)) restarts.push(pending.get(mainTid).end - pending.get(mainTid).start);
  const summary = (xs) => ({ count: xs.length, p50Ms: ms(quantile(xs, 0.5)), maxMs: ms(Math.max(0, ...xs)), totalMs: ms(xs.reduce((a, b) => a + b, 0)) });
  return { eventLoop: summary(checkpoints.eventLoop), otherThreads: summary(checkpoints.otherThreads), walRestartSyncs: summary(restarts), databaseFlushes };
}

async function runOnce(build, round) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `certmint-checkpoints-${build.label}-`));
  const cpus = opt.pinned ? cpuSplit() : null;
  try {
    const dns = await startChallTestSrv(dir);
    const dataDir = path.join(dir, 'data');
    const http01Port = Number(opt['http01-port']);
    const configFile = await writeCertmintConfig(dir, { dataDir, dnsAddress: dns.dnsAddress, http01Port });
    const straceFile = path.join(dir, 'strace.txt');
    const strace = ['-f', '--seccomp-bpf', '-tt', '-T', '-y', '-e', 'trace=fsync,fdatasync', '-o', straceFile, process.execPath, build.main, 'serve', '--config', configFile];
    const run = pinnedCommand(cpus?.servers, 'strace', strace);
    let ready;
    const directory = new Promise((resolve) => (ready = resolve));
    const logFile = path.join(dir, 'serve.log');
    const p = spawnLogged(run.command, run.args, { env: certmintEnv(), logFile, onLine: (line) => /ACME directory at ([^"\s]+)/.exec(line)?.[1] && ready(/ACME directory at ([^"\s]+)/.exec(line)[1]) });
    let stopped = false;
    onCleanup(async () => {
      if (stopped) return;
      const pid = Number(/^(\d+)\s/.exec(readFileSync(straceFile, 'utf8'))?.[1]);
      if (pid) process.kill(pid, 'SIGKILL');
      await p.stop();
    });
    const directoryUrl = await Promise.race([directory, p.exited.then(() => Promise.reject(new Error(`certmint exited: ${p.tail()}`)))]);
    const target = { directoryUrl, caBundle: path.join(dataDir, 'ca', 'root.pem'), listen: `127.0.0.1:${http01Port}`, clientCpus: cpus?.client };
    await runAcmegoLoad({ ...target, n: Number(opt.warmup), c: 1, nameTemplate: `warm-w%d-i%d.r${round}.checkpoints.test` });
    const fromLine = readFileSync(straceFile, 'utf8').split('\n').length - 1;
    const t0 = performance.now();
    const load = await runAcmegoLoad({ ...target, n: Number(opt.n), c: Number(opt.c), nameTemplate: `w%d-i%d.r${round}.checkpoints.test` });
    const seconds = (performance.now() - t0) / 1000;
    const text = readFileSync(straceFile, 'utf8').split('\n').slice(fromLine).join('\n');
    // strace's child: certmint's main thread, whose tid is its pid.
    const mainTid = Number(/^(\d+)\s/.exec(readFileSync(straceFile, 'utf8'))?.[1]);
    // SIGTERM to certmint itself (strace, signalled, would detach and leave it running); strace ends with it.
    process.kill(mainTid, 'SIGTERM');
    await p.exited;
    stopped = true;
    const per1000 = 1000 / load.ok;
    const c = classify(parseSyncs(text), mainTid);
    // The checkpoint thread's warn lines (it ended, or fell behind), if any.
    const warnings = readFileSync(logFile, 'utf8').split('\n').filter((line) => line.includes('checkpoint thread')).length;
    return { build: build.label, round, ok: load.ok, warnings, seconds: +seconds.toFixed(1), per1000: +per1000.toFixed(3), ...c };
  } finally {
    if (!opt.keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const builds = opt.builds.split(',').map((b) => {
    const [label, repo] = b.split('=');
    return { label, main: path.join(path.resolve(repo), 'dist', 'cli', 'main.js') };
  });
  buildAcmego();
  try {
    for (let round = 1; round <= Number(opt.rounds); round += 1) {
      for (const build of builds) {
        const r = await runOnce(build, round);
        const f = (s) => `${(s.count * r.per1000).toFixed(1)} per 1,000 (p50 ${s.p50Ms} ms, max ${s.maxMs} ms, ${(s.totalMs * r.per1000).toFixed(1)} ms in all)`;
        console.log(`${r.build} round ${r.round} (C=${opt.c}, ${r.ok} issuances): checkpoints on the event loop ${f(r.eventLoop)}; on other threads ${f(r.otherThreads)}; WAL restart syncs on the event loop ${f(r.walRestartSyncs)}; checkpoint-thread warnings ${r.warnings}`);
        console.log(JSON.stringify(r));
      }
    }
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
