import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The absolute path of `binary` on PATH, or undefined. */
export function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * Whether a test may use `binary`. Missing binaries skip their suites (callers use
 * `describe.skipIf(!available)`) unless CERTMINT_REQUIRE_CLIENTS=1, where CI wants a missing
 * client to fail loudly instead of passing by skipping.
 *
 * @param installHint what to run to get it, e.g. `apt-get install pebble`
 */
export function requireOrSkip(binary: string, installHint: string): boolean {
  return requireOrSkipFound(findOnPath(binary) !== undefined, `${binary} is not on PATH`, binary, installHint);
}

/**
 * requireOrSkip for a tool found some other way than on PATH (Debian's PostgreSQL server lives
 * in /usr/lib/postgresql/<version>/bin): `found` says whether it is there, `problem` why not.
 */
export function requireOrSkipFound(found: boolean, problem: string, what: string, installHint: string): boolean {
  return requireOrSkipWhy(found, problem, what, `install it with: ${installHint}`);
}

/**
 * The one gate every skip goes through: true when the prerequisite is there; otherwise a warning
 * and false (the caller skips), or, under CERTMINT_REQUIRE_CLIENTS=1 (CI), an error that fails
 * the file with `remedy` as its hint. `what` names the prerequisite, `problem` why it is missing.
 */
export function requireOrSkipWhy(found: boolean, problem: string, what: string, remedy: string): boolean {
  if (found) return true;
  const message = `${problem}; ${remedy}`;
  if (process.env.CERTMINT_REQUIRE_CLIENTS === '1') {
    throw new Error(`${message} (CERTMINT_REQUIRE_CLIENTS=1 makes this an error)`);
  }
  console.warn(`skipping tests that need ${what}: ${message}`);
  return false;
}

/** Suites that mount file systems or enter namespaces need root; CI runs as root. */
export function requireRootOrSkip(why: string): boolean {
  return requireOrSkipWhy(process.getuid?.() === 0, `not running as root (needed to ${why})`, 'root', 'run the tests as root, as .ci/run does');
}

/** The Go ACME client (test/interop/acmego) as buildGoClient returned it: its path, or null when go or x/crypto is missing. */
export function requireGoClientOrSkip(acmego: string | null): acmego is string {
  return requireOrSkipFound(acmego !== null, 'the Go ACME client could not be built (go or golang.org/x/crypto missing)', 'the Go ACME client', 'apt-get install golang-go golang-golang-x-crypto-dev');
}
