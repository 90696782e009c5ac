import type { Pkcs11Library } from './module.js';
import { pkcs11js } from './module.js';
import { pkcs11Failure } from './errors.js';

type Handle = Buffer;

/**
 * A few logged-in sessions on one token, each lent to one operation at a time: two operations
 * on one session answer CKR_OPERATION_ACTIVE. The login is per token, not per session, so it
 * happens once; there is no C_Logout, which would log out every session while others sign.
 */
export class SessionPool {
  private readonly free: Handle[] = [];
  private readonly waiters: { resolve: (s: Handle) => void; reject: (e: Error) => void }[] = [];
  private closedWith: Error | undefined;

  private constructor(
    private readonly lib: Pkcs11Library,
    private readonly all: readonly Handle[],
  ) {
    this.free.push(...all);
  }

  /** Opens `size` read-write sessions on `slot` and logs the user in; closes what it opened when that fails. */
  static open(lib: Pkcs11Library, slot: Handle, size: number, pin: string, tokenName: string): SessionPool {
    const sessions: Handle[] = [];
    try {
      for (let i = 0; i < size; i++) {
        try {
          sessions.push(lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
        } catch (e) {
          throw pkcs11Failure(`opening a session on ${tokenName}`, e);
        }
      }
      try {
        lib.C_Login(sessions[0] as Handle, pkcs11js.CKU_USER, pin);
      } catch (e) {
        // A second C_Login on a token answers CKR_USER_ALREADY_LOGGED_IN: that is success.
        if (!(e instanceof Error && e.message.includes('CKR_USER_ALREADY_LOGGED_IN'))) {
          throw pkcs11Failure(`login to ${tokenName}`, e);
        }
      }
    } catch (e) {
      closeQuietly(lib, sessions);
      throw e;
    }
    return new SessionPool(lib, sessions);
  }

  /** Lends a session to `operation` and takes it back when the operation settles. */
  async with<T>(operation: (session: Handle) => Promise<T> | T): Promise<T> {
    const session = await this.acquire();
    try {
      return await operation(session);
    } finally {
      this.giveBack(session);
    }
  }

  /** Refuses every waiting and future borrower with `reason`; close() closes the sessions. */
  fail(reason: Error): void {
    this.closedWith ??= reason;
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason);
  }

  /** Closes every session (lent ones are finished: callers wait for them first). */
  close(reason: Error): void {
    this.fail(reason);
    closeQuietly(this.lib, this.all);
  }

  private acquire(): Promise<Handle> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    const session = this.free.pop();
    if (session !== undefined) return Promise.resolve(session);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private giveBack(session: Handle): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve(session);
    else this.free.push(session);
  }
}

function closeQuietly(lib: Pkcs11Library, sessions: readonly Handle[]): void {
  for (const session of sessions) {
    try {
      lib.C_CloseSession(session);
    } catch {
      // the session went with the token or the module reset
    }
  }
}
