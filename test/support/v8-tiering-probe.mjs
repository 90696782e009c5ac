// Preloaded into a `certmint serve` under test (NODE_OPTIONS=--import, so cluster workers load it
// too): on SIGUSR2 it counts the calls a small function needs before V8 decides to optimize it (marks
// it, compiles it or has: what the interrupt budget decides, not how busy the compiler thread is) in
// this process, as its flags stand, and writes the count to $CERTMINT_PROBE_DIR/<pid>.
// test/e2e/v8-flags.test.ts compares the counts of the server's processes.
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import v8 from 'node:v8';

process.on('SIGUSR2', () => {
  // For the probe's own code: natives syntax, for the status.
  v8.setFlagsFromString('--allow-natives-syntax');
  const status = new Function('f', 'return %GetOptimizationStatus(f)');
  const f = new Function('x', 'let s = 0; for (let i = 0; i < 8; i++) s += x * i; return s;');
  let n = 0;
  for (; n < 100000; n++) {
    f(n);
    // V8 11's OptimizationStatus: kOptimized, kTurboFanned, kMarkedForOptimization,
    // kMarkedForConcurrentOptimization, kOptimizingConcurrently.
    if (status(f) & (16 | 64 | 256 | 512 | 1024)) break;
  }
  // Written aside, then renamed: the test polls for the file and reads it at once, and once read
  // an empty file (created, not yet written) as 0 (a CI run's "expected +0 to be 285").
  const file = path.join(process.env.CERTMINT_PROBE_DIR, String(process.pid));
  writeFileSync(`${file}.tmp`, String(n));
  renameSync(`${file}.tmp`, file);
});
