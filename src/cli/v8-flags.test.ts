import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// tsc's output of v8-flags.ts (npm test builds first): the child runs it as `certmint serve` does.
const BUILT = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/v8-flags.js')).href;

/**
 * Calls of a small function until V8 has optimized it (TurboFan), in a fresh node; synchronous
 * optimization (--no-concurrent-recompilation) so the count does not depend on a background thread.
 */
function callsUntilOptimized(apply: boolean): number {
  const script = `
    const { applyServeV8Flags } = await import(${JSON.stringify(BUILT)});
    if (${apply}) applyServeV8Flags();
    function f(x) { let s = 0; for (let i = 0; i < 8; i++) s += x * i; return s; }
    let n = 0;
    for (; n < 100000; n++) { f(n); if (%GetOptimizationStatus(f) & 64) break; }
    console.log(n);`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return Number(out.trim());
}

describe('the V8 flags certmint serve sets (issue 27)', () => {
  it('optimizes a hot function after far fewer calls than V8 by default', () => {
    const byDefault = callsUntilOptimized(false);
    const served = callsUntilOptimized(true);
    expect(byDefault).toBeLessThan(100000);
    expect(served).toBeLessThan(byDefault / 2);
  });
});
