// Issue 27: where certmint's server CPU per issuance goes below JavaScript. bench/profile.mjs reads
// V8's --cpu-prof, which sees the JavaScript thread only: not GC threads, OpenSSL, SQLite, libuv or
// the kernel as such. This runs certmint pinned (as the benchmark's pinned loads) under
// `node --perf-basic-prof` (JIT frames get names in /tmp/perf-<pid>.map), a C=32 load of N
// issuances from the Go client, and one of:
//   --perf    `perf record -g` on the server's process (every thread) during the load, then every
//             sample sorted into a family by its leaf frame (bench/native-families.mjs) and, for
//             kernel samples, the system call its stack entered through; ms per issuance
//   --strace  `strace -c -f` on the server during the load: system calls per issuance (strace
//             slows the server a lot: use a short load); with --strace-trace SET (e.g.
//             write,pwrite64,fdatasync) each call of SET is logged instead, with its file (-yy),
//             in the run's directory (--keep)
//   --trace-gc  node --trace-gc: scavenges and mark-compacts per issuance and their pause time
// Always: the server's CPU per issuance (all threads, /proc) and its RSS at the end.
//
//   node bench/native-profile.mjs [--perf] [--strace [--strace-trace SET]] [--trace-gc] [--issuances N]
//     [--concurrency C] [--warmup N] [--node-arg ARG]... [--config-line LINE]... [--main FILE] [--keep] [--json FILE]
//
// --main: another build's dist/cli/main.js (an A/B against a baseline worktree); --warmup: C-way
// issuances before the measured load (default 100; the JIT is still warming up for thousands more).
//
// Needs perf (linux-perf) / strace, root or kernel.perf_event_paranoid ≤ 1 for --perf.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { CERTMINT_MAIN, buildAcmego, cleanup, memoryOf, onCleanup, runAcmegoLoad, startCertmint, startChallTestSrv, writeCertmintConfig } from './processes.mjs';
import { cpuSplit, treeCpuMs } from './pinning.mjs';
import { FAMILIES, familyOf, purposeOf, syscallOf } from './native-families.mjs';

/** perf's sampling period: one cpu-clock sample every 250 µs of CPU, so samples × 0.25 = ms. */
const PERIOD_NS = 250_000;

function startTool(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
    return err;
  };
  onCleanup(stop);
  return { stop };
}

/** Samples of `perf script` output (callchains: leaf first). */
function* perfSamples(text) {
  let current = null;
  for (const line of text.split('\n')) {
    if (line.length === 0) {
      if (current) yield current;
      current = null;
    } else if (!line.startsWith('\t') && !line.startsWith(' ')) {
      current = { head: line, frames: [] };
    } else if (current) {
      // "\t    7f12ab sym+0x12 (dso)"
      const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
      if (m) current.frames.push({ sym: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] });
    }
  }
  if (current) yield current;
}

/** perf.data → {family: samples}, {syscall: samples} (kernel), {purpose: samples}, top symbols of 'other'. */
function attributePerf(file, pid) {
  const text = execFileSync('perf', ['script', '-i', file, '-F', 'comm,tid,ip,sym,dso'], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const families = new Map();
  const syscalls = new Map();
  const purposes = new Map();
  const others = new Map();
  const threads = new Map();
  let total = 0;
  const add = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
  for (const s of perfSamples(text)) {
    if (s.frames.length === 0) continue;
    total++;
    const family = familyOf(s.frames[0]);
    add(families, family);
    const main = Number(s.head.trim().split(/\s+/)[1]) === pid;
    add(threads, `${main ? 'main thread' : 'other threads'}: ${family}`);
    add(purposes, purposeOf(s.frames, family));
    if (family === 'kernel') add(syscalls, syscallOf(s.frames));
    if (family === 'other' || family === 'node (C++)') add(others, `${s.frames[0].sym} (${path.basename(s.frames[0].dso)})`);
  }
  return { total, families, syscalls, purposes, others, threads };
}

/** strace -c's table → [{syscall, calls, errors}]. */
function parseStraceSummary(text) {
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d+)?\s*(\w+)\s*$/.exec(line);
    if (m && m[3] !== 'total') rows.push({ syscall: m[3], calls: Number(m[1]), errors: Number(m[2] ?? 0) });
  }
  return rows.sort((a, b) => b.calls - a.calls);
}

/** --trace-gc lines → counts and summed pause ms per kind. */
function parseTraceGc(text) {
  const kinds = {};
  for (const m of text.matchAll(/: (Scavenge|Mark-Compact|Mark-Compact \(reduce\)|Minor Mark-Compact|Mark-sweep)[^,]*, ([\d.]+) \/ ([\d.]+) ms/g)) {
    const k = (kinds[m[1]] ??= { count: 0, pauseMs: 0 });
    k.count++;
    k.pauseMs += Number(m[2]);
  }
  return kinds;
}

const perIssuance = (map, n, unitMs) => [...map].sort((a, b) => b[1] - a[1]).map(([name, samples]) => ({ name, msPerIssuance: +((samples * unitMs) / n).toFixed(3), samples }));

async function main() {
  const { values: opt } = parseArgs({
    options: {
      issuances: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '32' },
      warmup: { type: 'string', default: '100' },
      perf: { type: 'boolean', default: false },
      strace: { type: 'boolean', default: false },
      'trace-gc': { type: 'boolean', default: false },
      'strace-trace': { type: 'string' },
      'node-arg': { type: 'string', multiple: true, default: [] },
      'config-line': { type: 'string', multiple: true, default: [] },
      main: { type: 'string', default: CERTMINT_MAIN },
      'http01-port': { type: 'string', default: '80' },
      keep: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const log = (m) => console.error(m);
  const n = Number(opt.issuances);
  const c = Number(opt.concurrency);
  const split = cpuSplit().split;
  if (!split) log('native-profile: unpinned (cannot pin on this machine)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'certmint-native-'));
  const result = { at: new Date().toISOString(), main: opt.main, nodeArgs: opt['node-arg'], configLines: opt['config-line'], n, c };
  try {
    buildAcmego();
    const dns = await startChallTestSrv(dir);
    const http01Port = Number(opt['http01-port']);
    const dataDir = path.join(dir, 'data');
    const configFile = await writeCertmintConfig(dir, { dataDir, dnsAddress: dns.dnsAddress, http01Port, extraLines: opt['config-line'] });
    const nodeArgs = [...(opt.perf ? ['--perf-basic-prof'] : []), ...(opt['trace-gc'] ? ['--trace-gc'] : []), ...opt['node-arg']];
    const logFile = path.join(dir, 'serve.log');
    const server = await startCertmint(configFile, { logFile, cpus: split?.servers, nodeArgs, main: opt.main });
    const target = { directoryUrl: server.directoryUrl, caBundle: path.join(dataDir, 'ca', 'root.pem'), listen: `127.0.0.1:${http01Port}`, clientCpus: split?.client };
    const w = await runAcmegoLoad({ ...target, n: Number(opt.warmup), c, nameTemplate: 'warm-w%d-i%d.load.test' });
    if (w.errors > 0) throw new Error(`warm-up: ${w.errors} errors, first: ${w.first_error}`);
    const perfFile = path.join(dir, 'perf.data');
    const straceFile = path.join(dir, 'strace.txt');
    const tools = [];
    if (opt.perf) tools.push(startTool('perf', ['record', '-e', 'cpu-clock', '-c', String(PERIOD_NS), '-g', '-p', String(server.pid), '-o', perfFile]));
    if (opt.strace) tools.push(startTool('strace', [...(opt['strace-trace'] ? ['-e', `trace=${opt['strace-trace']}`, '-s', '0', '-yy'] : ['-c']), '-f', '-p', String(server.pid), '-o', straceFile]));
    if (tools.length > 0) await delay(500); // perf/strace attach
    const gcFrom = statSync(logFile).size;
    const cpuBefore = treeCpuMs(server.pid);
    const load = await runAcmegoLoad({ ...target, n, c, nameTemplate: 'native-w%d-i%d.load.test' });
    const cpuMs = treeCpuMs(server.pid) - cpuBefore;
    for (const t of tools) log((await t.stop()).trim().split('\n').slice(-1)[0]);
    await delay(200);
    const gcText = readFileSync(logFile, 'utf8').slice(gcFrom);
    result.memory = memoryOf(server.pid);
    await server.stop();
    if (load.errors > 0) throw new Error(`load: ${load.errors} errors, first: ${load.first_error}`);
    const ok = load.ok;
    Object.assign(result, { ok, perSec: load.per_sec, p50Ms: load.p50_ms, cpuMsPerIssuance: +(cpuMs / ok).toFixed(2) });
    log(`native-profile: ${ok} issuances, ${load.per_sec}/s, server CPU ${result.cpuMsPerIssuance} ms per issuance (/proc), RSS ${result.memory.rssMb} MB (peak ${result.memory.peakRssMb})`);
    if (opt['trace-gc']) {
      result.gc = Object.fromEntries(Object.entries(parseTraceGc(gcText)).map(([k, v]) => [k, { perIssuance: +(v.count / ok).toFixed(3), pauseMsPerIssuance: +(v.pauseMs / ok).toFixed(3), count: v.count }]));
      console.log('GC:', JSON.stringify(result.gc));
    }
    if (opt.strace && !opt['strace-trace']) {
      result.syscalls = parseStraceSummary(readFileSync(straceFile, 'utf8')).map((r) => ({ ...r, perIssuance: +(r.calls / ok).toFixed(2) }));
      console.log(`syscalls per issuance (strace -c -f, ${ok} issuances):`);
      for (const r of result.syscalls.slice(0, 20)) console.log(`  ${r.syscall.padEnd(20)} ${String(r.perIssuance).padStart(8)}${r.errors ? `  (${r.errors} errors)` : ''}`);
    }
    if (opt.perf) {
      const a = attributePerf(perfFile, server.pid);
      const unitMs = PERIOD_NS / 1e6;
      result.perf = {
        msPerIssuance: +((a.total * unitMs) / ok).toFixed(2),
        families: perIssuance(a.families, ok, unitMs),
        kernelBySyscall: perIssuance(a.syscalls, ok, unitMs),
        purposes: perIssuance(a.purposes, ok, unitMs),
        threads: perIssuance(a.threads, ok, unitMs),
        topOther: perIssuance(a.others, ok, unitMs).slice(0, 25),
      };
      console.log(`perf: ${result.perf.msPerIssuance} ms per issuance sampled (${a.total} samples of ${unitMs} ms)`);
      for (const [title, rows, limit] of [['family', result.perf.families, 99], ['kernel by syscall', result.perf.kernelBySyscall, 15], ['purpose (from the stack)', result.perf.purposes, 30], ['thread × family', result.perf.threads, 30], ['top node C++/other symbols', result.perf.topOther, 25]]) {
        console.log(`\n${title}:`);
        for (const r of rows.slice(0, limit)) console.log(`  ${r.name.padEnd(44)} ${r.msPerIssuance.toFixed(3).padStart(7)} ms`);
      }
    }
    if (opt.json) writeFileSync(opt.json, JSON.stringify(result, null, 2));
  } finally {
    await cleanup();
    if (opt.keep) log(`native-profile: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

export { FAMILIES, attributePerf };
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    console.error(`native-profile: FAILED: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  });
}
