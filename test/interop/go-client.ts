import { execFile } from 'node:child_process';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { findOnPath } from '../support/clients.js';

const execFileAsync = promisify(execFile);

const interopDir = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = resolve(interopDir, '..', '..');

/** Where Debian's golang-golang-x-crypto-dev puts golang.org/x/crypto (GOPATH layout). */
const gopath = process.env.CERTMINT_GOPATH ?? '/usr/share/gocode';

const BUILD_TIMEOUT_MS = 180_000;

const building = new Map<string, Promise<string | null>>();

/** Builds one Go program of test/interop/ (a directory of package main) once, as buildGoClient describes. */
function buildOnce(program: string, needsXCrypto: boolean): Promise<string | null> {
  let pending = building.get(program);
  if (pending === undefined) {
    pending = build(program, needsXCrypto).catch((err: unknown) => {
      building.delete(program); // let a later call retry after a failure
      throw err;
    });
    building.set(program, pending);
  }
  return pending;
}

/**
 * Builds the Go interop client (test/interop/acmego, on golang.org/x/crypto/acme) once into
 * test/interop/bin/acmego and returns its path. The build is skipped when the binary is newer
 * than every .go file of the package. Returns null when `go` or the x/crypto sources are missing;
 * the caller decides whether that skips (default) or fails (CERTMINT_REQUIRE_CLIENTS=1).
 * A compile error is thrown: that is a bug, not a missing tool.
 *
 * The build runs in GOPATH mode (GO111MODULE=off) against Debian's packaged x/crypto, because
 * the Go module proxy is not reachable; the package may live outside GOPATH in that mode.
 */
export function buildGoClient(): Promise<string | null> {
  return buildOnce('acmego', true);
}

/**
 * Builds test/interop/x509check (crypto/x509 only, nothing outside Go's standard library), which
 * parses certificates as Go clients do and exits 1 naming what it refuses. Null when `go` is missing.
 */
export function buildX509Check(): Promise<string | null> {
  return buildOnce('x509check', false);
}

/**
 * Builds test/interop/x509verify (crypto/x509 only), which runs x509.Verify on a leaf with given
 * roots and intermediates, name constraints included, and exits 1 with Go's error. Null when `go` is missing.
 */
export function buildX509Verify(): Promise<string | null> {
  return buildOnce('x509verify', false);
}

async function build(program: string, needsXCrypto: boolean): Promise<string | null> {
  const binary = join(interopDir, 'bin', program);
  const go = findOnPath('go');
  if (go === undefined) {
    console.warn(`${program}: \`go\` is not on PATH (apt-get install golang-go)`);
    return null;
  }
  if (needsXCrypto && !(await exists(join(gopath, 'src', 'golang.org', 'x', 'crypto', 'acme', 'rfc8555.go')))) {
    console.warn(`${program}: golang.org/x/crypto/acme not under ${gopath} (apt-get install golang-golang-x-crypto-dev)`);
    return null;
  }
  if (await upToDate(binary, join(interopDir, program))) return binary;

  await mkdir(join(interopDir, 'bin'), { recursive: true });
  // Build to a private name and rename, so parallel test processes never run a half-written file.
  const tmp = `${binary}.${process.pid}.tmp`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GO111MODULE: 'off',
    GOPATH: gopath,
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
  };
  if (env.GOCACHE === undefined && env.HOME === undefined && env.XDG_CACHE_HOME === undefined) {
    env.GOCACHE = join(tmpdir(), 'certmint-go-build-cache');
  }
  try {
    await execFileAsync(go, ['build', '-o', tmp, `./test/interop/${program}`], {
      cwd: repoRoot,
      env,
      timeout: BUILD_TIMEOUT_MS,
      maxBuffer: 4 * 1024 * 1024,
    });
    await rename(tmp, binary);
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as { stderr?: string; message?: string };
    throw new Error(`go build of test/interop/${program} failed: ${e.stderr?.trim() || e.message}`);
  }
  return binary;
}

/** Whether the binary exists and is newer than every .go file of the package. */
async function upToDate(binary: string, sourceDir: string): Promise<boolean> {
  let built: number;
  try {
    built = (await stat(binary)).mtimeMs;
  } catch {
    return false;
  }
  for (const name of await readdir(sourceDir)) {
    if (!name.endsWith('.go')) continue;
    if ((await stat(join(sourceDir, name))).mtimeMs >= built) return false;
  }
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
