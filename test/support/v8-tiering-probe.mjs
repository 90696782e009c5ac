// Preloaded into a `certmint serve` under test (NODE_OPTIONS=--import, so cluster workers load it
// too): on SIGUSR2 it counts the calls a small function needs before V8 decides to optimize it (marks
// it, compiles it or has: what the interrupt budget decides, not how busy the compiler thread is) in
// this process, as its flags stand, and writes the count to $CERTMINT_PROBE_DIR/<pid>.
// test/e2e/v8-flags.test.ts compares the counts of the server's processes.
import { writeFileSync } from 'node:fs';
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
  writeFileSync(path.join(process.env.CERTMINT_PROBE_DIR, String(process.pid)), String(n));
});
