import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { errorCode } from '../ca-file-io.js';
import { Pkcs11Error, pkcs11Failure } from './errors.js';

export type Pkcs11Library = InstanceType<typeof pkcs11js.PKCS11>;
export { pkcs11js };

/**
 * A vendor module loaded once per process and path. The map holds the binding object for the
 * life of the process: pkcs11js unloads the library when its object is garbage-collected, which
 * under signing crashes. C_Finalize (close, reinitialize) waits until no call is in flight:
 * finalizing while other sessions sign crashed the process in the measurements of issue 23.
 */
export class Pkcs11Module {
  private static readonly loaded = new Map<string, Pkcs11Module>();

  private users = 0;
  private initialized = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  /** Bumped on every re-initialisation: sessions and handles of an older generation are gone. */
  generation = 0;

  private constructor(
    readonly path: string,
    readonly lib: Pkcs11Library,
  ) {}

  /** The module at `path`, loaded and initialised (with OS locking); pair with release(). */
  static acquire(path: string): Pkcs11Module {
    // Keyed by the real path: the same library named through a symlink is the same module, and
    // a second C_Initialize of it would answer CKR_CRYPTOKI_ALREADY_INITIALIZED.
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // loadLibrary says why the path is unusable
    }
    let module = Pkcs11Module.loaded.get(real);
    if (module === undefined) {
      module = new Pkcs11Module(path, loadLibrary(path));
      Pkcs11Module.loaded.set(real, module);
    }
    if (!module.initialized) module.initialize();
    module.users += 1;
    return module;
  }

  /** Runs one call against the module, counted so that C_Finalize never overlaps it. */
  async run<T>(call: () => T | Promise<T>): Promise<T> {
    this.inFlight += 1;
    try {
      return await call();
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /**
   * C_Finalize then C_Initialize, once nothing is in flight. A module only sees a token that
   * was re-created or restored after a fresh C_Initialize (SoftHSM keeps answering
   * CKR_GENERAL_ERROR for the deleted one until then).
   */
  async reinitialize(): Promise<void> {
    await this.idle();
    if (this.initialized) {
      try {
        this.lib.C_Finalize();
      } catch {
        // already gone with the device; C_Initialize below is what matters
      }
      this.initialized = false;
    }
    this.initialize();
  }

  /** One user fewer; the last one finalizes the module once no call is in flight. */
  async release(): Promise<void> {
    this.users -= 1;
    if (this.users > 0) return;
    await this.idle();
    if (this.users > 0 || !this.initialized) return;
    try {
      this.lib.C_Finalize();
    } catch {
      // nothing left to do with a module that cannot finalize
    }
    this.initialized = false;
    this.generation += 1;
  }

  private initialize(): void {
    try {
      this.lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    } catch (e) {
      throw pkcs11Failure(`initialisation of module ${this.path} (ca.pkcs11.module)`, e);
    }
    this.initialized = true;
    this.generation += 1;
  }

  private idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

/** dlopen with a message that says why not: no such file, not readable, not a PKCS#11 library. */
function loadLibrary(path: string): Pkcs11Library {
  const what = `PKCS#11 module ${path} (ca.pkcs11.module)`;
  try {
    if (!statSync(path).isFile()) throw new Pkcs11Error(`${what} cannot be loaded: it is not a file`, undefined);
    accessSync(path, constants.R_OK);
  } catch (e) {
    if (e instanceof Pkcs11Error) throw e;
    const code = errorCode(e);
    const why =
      code === 'ENOENT'
        ? 'no such file (install the vendor library or fix the path)'
        : code === 'EACCES'
          ? 'permission denied (certmint cannot read it)'
          : String(code);
    throw new Pkcs11Error(`${what} cannot be loaded: ${why}`, undefined);
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
  } catch (e) {
    const detail = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    throw new Pkcs11Error(`${what} cannot be loaded: not a PKCS#11 library this process can load (${detail})`, undefined);
  }
  return lib;
}
