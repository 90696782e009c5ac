import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/**
 * The server bundle's first line (scripts/build-server.mjs): a new id each build, so a code cache
 * written for another build of the bundle is never found for this one. V8 itself only refuses a
 * cache of another V8 version, other flags or a source of another length.
 */
const BUILD_LINE = /^\/\/certmint-build ([\w-]+)\n/;

/** Where the V8 code cache of a bundle built with `buildId` lives: beside it, written by the build. */
export function codeCacheFile(bundle: string, buildId: string): string {
  return path.join(path.dirname(bundle), `${path.basename(bundle)}.${buildId}.v8-cache`);
}

export interface CompiledBundle {
  readonly script: vm.Script;
  /** Where this build's code cache is (or is written by the build's warm-up); undefined: a bundle without a build line. */
  readonly cacheFile: string | undefined;
  /** true: V8 compiled the bundle from source (no cache for this build, or one it refused: another Node). */
  readonly compiledFromSource: boolean;
}

/**
 * Compiles the server bundle (CommonJS), from V8's code cache of it when there is one. Node 20
 * keeps no compiled code of an application between starts (22.1's module.enableCompileCache does);
 * compiling the 2.9 MB bundle and then, lazily, each function a start calls was ~100 ms of CPU of
 * each start (issue 27). The cache is made once, by the build, and only read here: a read-only image
 * or a dist/ owned by another user works, and nothing a server writes at run time is ever run as
 * code. A cache V8 refuses (the image runs another Node) only costs the compile it would have saved.
 */
export function compileServerBundle(bundle: string, o: { ignoreCache?: boolean } = {}): CompiledBundle {
  const bytes = readFileSync(bundle);
  // The build writes it ASCII-only: decoded as Latin-1 it is V8's one-byte string, with no UTF-8 to decode.
  const source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  const buildId = BUILD_LINE.exec(source)?.[1];
  const cacheFile = buildId === undefined ? undefined : codeCacheFile(bundle, buildId);
  let cachedData: Buffer | undefined;
  if (cacheFile && !o.ignoreCache) {
    try {
      cachedData = readFileSync(cacheFile);
    } catch {
      // No cache (a build that could not make one): compiled from source.
    }
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return { script, cacheFile, compiledFromSource: cachedData === undefined || script.cachedDataRejected === true };
}

/**
 * Runs the server bundle as `certmint` (its process.argv). `writeCacheAtExit` is the build's warm-up
 * (scripts/write-code-cache.mjs): when the process exits, after a start has compiled the functions
 * it calls, their code is written as the bundle's cache.
 */
export function runServerBundle(bundle: string, o: { writeCacheAtExit?: boolean } = {}): void {
  const { script, cacheFile } = compileServerBundle(bundle, { ignoreCache: o.writeCacheAtExit === true });
  if (o.writeCacheAtExit && cacheFile) {
    // A command may end with process.exit(): registered before the bundle runs.
    process.on('exit', () => {
      writeFileSync(`${cacheFile}.tmp`, script.createCachedData());
      renameSync(`${cacheFile}.tmp`, cacheFile);
    });
  }
  const run = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
  const module = { exports: {} };
  run(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
}
