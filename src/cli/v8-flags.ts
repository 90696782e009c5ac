import v8 from 'node:v8';

/**
 * V8 flags `certmint serve` sets once it serves (each worker of server.workers too: it runs serve).
 *
 * --interrupt-budget (V8 11.3's default 67584, a quarter of it here): how much bytecode a function
 * runs before V8 considers optimizing it. certmint's request path is many functions, each run a few
 * times per request, so under the default they ran in the interpreter and Sparkplug's baseline code
 * through the first thousands of issuances, missing inline caches on the way (issue 27's native
 * profile, bench/native-profile.mjs: 1.7 ms of builtins/interpreter, 1.4 of V8 runtime/IC and 1.0 of
 * compiler per issuance in a C=32 load after 100 warm-up issuances, against 0.7, 0.9 and 0.2 after
 * 2,000). A quarter of the budget gets the same code optimized about four times sooner. It is a
 * tiering heuristic only: the code, and what it computes, are the same. Set at run time (V8 reads
 * it when it next counts a function's budget), after the start, so a start and every other command
 * keep V8's defaults and the build's code cache (made under them) stays valid.
 */
export const SERVE_V8_FLAGS: readonly string[] = ['--interrupt-budget=16896'];

/**
 * Not in the build's warm-up (scripts/write-code-cache.mjs sets WRITE_CODE_CACHE=1 for the start
 * whose exit writes the code cache): V8 stamps a cache with the flags in effect when it is made and
 * takes it only under the same flags, so one made after these would be refused by every plain
 * start (compiled from source instead: the start-to-serving time). What a cache holds (bytecode) is
 * the same either way; these flags only change when V8 optimizes.
 */
export function applyServeV8Flags(): void {
  if (process.env.WRITE_CODE_CACHE === '1') return;
  for (const flag of SERVE_V8_FLAGS) v8.setFlagsFromString(flag);
}
