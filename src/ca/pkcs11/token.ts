import { createHash, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CaKeyUnavailableError, type CaSigningKey } from '../ca-key.js';
import { caKeySpec, signatureVerifies } from '../ca-keys.js';
import type { CaKeyAlgorithm } from '../types.js';
import { describePkcs11Failure, isTokenLost, Pkcs11Error, pkcs11Failure } from './errors.js';
import { findPrivateKey, generateKeyPair, publicKeyCandidates, type FoundKey } from './key-objects.js';
import { Pkcs11Module } from './module.js';
import { SessionPool } from './session-pool.js';
import { findSlot } from './slots.js';
import type { Pkcs11Token, Pkcs11TokenOptions, Pkcs11TokenState } from './token-api.js';
import { formatPkcs11Uri, parsePkcs11Uri, type Pkcs11KeyUri } from './uri.js';
import { mechanismFor, requireMechanisms } from './mechanisms.js';

type Handle = Buffer;

/** Options openPkcs11Token accepts beyond the contract in token-api.ts (tests shorten the backoff). */
export interface Pkcs11TokenTuning {
  /** Sessions kept open and logged in; one signature at a time each. Default 4. */
  readonly sessions?: number;
  /** Delays between reconnect attempts after the token is lost; the last repeats. */
  readonly reconnectDelaysMs?: readonly number[];
}

const DEFAULT_RECONNECT_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

/** A key certmint uses, found again by its URI after a reconnect (the handle changes, the public key must not). */
interface KeyEntry {
  readonly uriText: string;
  readonly uri: Pkcs11KeyUri;
  handle: Handle;
  readonly algorithm: CaKeyAlgorithm;
  readonly spki: Uint8Array;
}

export async function openPkcs11Token(options: Pkcs11TokenOptions & Pkcs11TokenTuning): Promise<Pkcs11Token> {
  const module = Pkcs11Module.acquire(options.module);
  try {
    const tokenName = `token ${JSON.stringify(options.token)}`;
    const slot = findSlot(module.lib, options.token, options.module);
    const pool = SessionPool.open(module.lib, slot, options.sessions ?? 4, options.pin, tokenName);
    return new TokenConnection(module, options, pool, slot);
  } catch (e) {
    await module.release();
    throw e;
  }
}

class TokenConnection implements Pkcs11Token {
  private pool: SessionPool | undefined;
  private current: Pkcs11TokenState = { state: 'ready' };
  private readonly listeners = new Set<(state: Pkcs11TokenState) => void>();
  private readonly keys = new Map<string, KeyEntry>();
  private readonly delays: readonly number[];
  private attempt = 0;
  private nextAttemptAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private reconnecting: Promise<void> | undefined;
  private closed = false;
  private lostInGeneration = -1;
  /** Calls on this token's sessions, which close() lets finish before closing the sessions. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly tokenName: string;

  constructor(
    private readonly module: Pkcs11Module,
    private readonly options: Pkcs11TokenOptions & Pkcs11TokenTuning,
    pool: SessionPool,
    private slot: Handle,
  ) {
    this.pool = pool;
    this.tokenName = `token ${JSON.stringify(options.token)}`;
    this.delays = options.reconnectDelaysMs?.length ? options.reconnectDelaysMs : DEFAULT_RECONNECT_DELAYS_MS;
  }

  state(): Pkcs11TokenState {
    if (this.current.state === 'lost') return { ...this.current, retryAfterSeconds: this.retryAfterSeconds() };
    return this.current;
  }

  onStateChange(listener: (state: Pkcs11TokenState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async requireMechanisms(algorithm: CaKeyAlgorithm): Promise<void> {
    const pool = this.livePool();
    await this.call(pool, 'reading the mechanism list', async () => {
      requireMechanisms(this.module.lib, this.slot, algorithm, this.tokenName);
    });
  }

  async probe(): Promise<Pkcs11TokenState> {
    if (this.current.state === 'ready') {
      // No session needed: token info is asked of the slot (SoftHSM answers CKR_GENERAL_ERROR for a deleted token).
      try {
        await this.call(this.livePool(), 'reading the token info', async () => {
          this.module.lib.C_GetTokenInfo(this.slot);
        });
      } catch (e) {
        if (!(e instanceof CaKeyUnavailableError)) throw e;
      }
    }
    return this.state();
  }

  async findKey(uriText: string): Promise<CaSigningKey | undefined> {
    const uri = parsePkcs11Uri(uriText);
    const pool = this.livePool();
    const found = await this.call(pool, `looking up ${uriText}`, (session) => this.locate(session, uri, uriText));
    return found === undefined ? undefined : this.keyFor(uriText, uri, found);
  }

  async generateKey(uriText: string, algorithm: CaKeyAlgorithm): Promise<CaSigningKey> {
    const uri = parsePkcs11Uri(uriText);
    if (uri.label === undefined) {
      throw new Pkcs11Error(`PKCS#11 key URI ${uriText} has no object=<label>; a key certmint creates needs one`, undefined);
    }
    if ((await this.findKey(uriText)) !== undefined) {
      throw new Pkcs11Error(`PKCS#11 key ${uriText} already exists on ${this.tokenName}; certmint creates keys only where none is found`, undefined);
    }
    await this.requireMechanisms(algorithm);
    const pool = this.livePool();
    const found = await this.call(pool, `generating a ${algorithm} key ${uriText} on ${this.tokenName}`, async (session) => {
      await generateKeyPair(this.module.lib, session, uri, algorithm);
      return this.locate(session, uri, uriText);
    });
    if (found === undefined) throw new Pkcs11Error(`PKCS#11 key ${uriText} was generated but cannot be found again on ${this.tokenName}`, undefined);
    return this.keyFor(uriText, uri, found);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.reconnecting;
    const reason = new Pkcs11Error(`PKCS#11 ${this.tokenName} is closed`, undefined);
    // The pool lends no session once failed; sessions close only after the calls on them settle.
    this.pool?.fail(reason);
    await Promise.allSettled([...this.inFlight]);
    this.pool?.close(reason);
    this.pool = undefined;
    await this.module.release();
  }

  /** Signs through a pooled session with the async C_Sign, so the event loop never waits on the token. */
  private async sign(entry: KeyEntry, data: Uint8Array): Promise<Uint8Array> {
    const pool = this.livePool();
    const mechanism = mechanismFor(entry.algorithm);
    // SoftHSM has no CKM_ECDSA_SHA256: ECDSA hashes here and signs the digest (r‖s comes back).
    const input =
      mechanism.hash === undefined ? Buffer.from(data) : createHash(mechanism.hash).update(data).digest();
    const signature = await this.call(pool, `signing with ${this.describe(entry)}`, async (session) => {
      this.module.lib.C_SignInit(session, { mechanism: mechanism.mechanism }, entry.handle);
      return this.module.lib.C_SignAsync(session, input, Buffer.alloc(512));
    });
    return new Uint8Array(signature);
  }

  /** One call on a pooled session; a token-lost answer turns into CaKeyUnavailableError and starts the reconnect. */
  private async call<T>(pool: SessionPool, step: string, operation: (session: Handle) => Promise<T>): Promise<T> {
    const running = pool.with((session) => this.module.run(() => operation(session)));
    this.inFlight.add(running);
    try {
      return await running;
    } catch (e) {
      if (e instanceof CaKeyUnavailableError) throw e;
      if (isTokenLost(e)) {
        this.lose(`${step} failed: ${describePkcs11Failure(e)}`);
        throw this.unavailable();
      }
      throw pkcs11Failure(step, e);
    } finally {
      this.inFlight.delete(running);
    }
  }

  private livePool(): SessionPool {
    if (this.closed) throw new Pkcs11Error(`PKCS#11 ${this.tokenName} is closed`, undefined);
    if (this.current.state === 'lost' || this.pool === undefined) throw this.unavailable();
    return this.pool;
  }

  private unavailable(): CaKeyUnavailableError {
    const reason = this.current.state === 'lost' ? this.current.reason : 'reconnecting';
    return new CaKeyUnavailableError(`PKCS#11 ${this.tokenName} is unavailable (${reason}); reconnecting`, this.retryAfterSeconds());
  }

  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.nextAttemptAt - performance.now()) / 1000));
  }

  /** The private key and the public half that verifies its test signature. */
  private async locate(session: Handle, uri: Pkcs11KeyUri, uriText: string): Promise<FoundKey | undefined> {
    const lib = this.module.lib;
    const handle = findPrivateKey(lib, session, uri, uriText);
    if (handle === undefined) return undefined;
    const what = `PKCS#11 key ${uriText} on ${this.tokenName}`;
    const candidates = publicKeyCandidates(lib, session, handle, what);
    const message = createHash('sha256').update(`certmint key check ${uriText}`).digest();
    for (const candidate of candidates) {
      const mechanism = mechanismFor(candidate.algorithm);
      const input = mechanism.hash === undefined ? message : createHash(mechanism.hash).update(message).digest();
      lib.C_SignInit(session, { mechanism: mechanism.mechanism }, handle);
      const signature = await lib.C_SignAsync(session, input, Buffer.alloc(512));
      if (verifiesWith(candidate, message, signature)) return candidate;
    }
    throw new Pkcs11Error(`${what}: no public key object on the token verifies its signatures, so certmint cannot know its public key`, undefined);
  }

  private keyFor(uriText: string, uri: Pkcs11KeyUri, found: FoundKey): CaSigningKey {
    const entry: KeyEntry = { uriText, uri, handle: found.handle, algorithm: found.algorithm, spki: found.spki };
    this.keys.set(uriText, entry);
    return {
      spec: caKeySpec(entry.algorithm),
      spki: entry.spki,
      description: this.describe(entry),
      sign: (data) => this.sign(entry, data),
    };
  }

  private describe(entry: KeyEntry): string {
    return `pkcs11:token=${encodeURIComponent(this.options.token)};${formatPkcs11Uri(entry.uri).slice('pkcs11:'.length)}`;
  }

  private setState(state: Pkcs11TokenState): void {
    this.current = state;
    for (const listener of [...this.listeners]) {
      try {
        listener(this.state());
      } catch {
        // a listener's failure is its own; the token carries on
      }
    }
  }

  private lose(reason: string): void {
    if (this.current.state === 'lost' || this.closed) return;
    this.attempt = 0;
    this.lostInGeneration = this.module.generation;
    this.scheduleReconnect();
    this.setState({ state: 'lost', reason, retryAfterSeconds: this.retryAfterSeconds() });
    this.pool?.fail(this.unavailable());
    this.options.warn?.(`PKCS#11 ${this.tokenName} lost: ${reason}; reconnecting in ${this.retryAfterSeconds()} s`);
  }

  private scheduleReconnect(): void {
    const delay = this.delays[Math.min(this.attempt, this.delays.length - 1)] ?? 1_000;
    this.nextAttemptAt = performance.now() + delay;
    this.timer = setTimeout(() => {
      this.reconnecting = this.reconnect().finally(() => (this.reconnecting = undefined));
    }, delay);
    this.timer.unref();
  }

  /**
   * Re-initialises the module (a re-created or restored token is only seen after that), finds
   * the token by label or serial, logs in, and finds every key again by its URI; a key whose
   * public half changed is not the key certmint signed with, so the token stays lost.
   */
  private async reconnect(): Promise<void> {
    const old = this.pool;
    this.pool = undefined;
    let pool: SessionPool | undefined;
    try {
      // C_Finalize closed the old sessions; closing their handles again could close new sessions
      // that reuse the numbers. Another token on the same module may have re-initialised already.
      old?.fail(this.unavailable());
      if (this.module.generation === this.lostInGeneration) await this.module.reinitialize();
      this.lostInGeneration = this.module.generation;
      const lib = this.module.lib;
      const slot = findSlot(lib, this.options.token, this.options.module);
      pool = SessionPool.open(lib, slot, this.options.sessions ?? 4, this.options.pin, this.tokenName);
      this.slot = slot;
      for (const entry of this.keys.values()) {
        const found = await pool.with((session) => this.module.run(() => this.locate(session, entry.uri, entry.uriText)));
        if (found === undefined) throw new Pkcs11Error(`key ${entry.uriText} is not on the token`, undefined);
        if (found.spki.length !== entry.spki.length || !timingSafeEqual(found.spki, entry.spki)) {
          throw new Pkcs11Error(`key ${entry.uriText} on the token is not the key certmint started with`, undefined);
        }
        entry.handle = found.handle;
      }
    } catch (e) {
      pool?.close(this.unavailable());
      if (this.closed) return;
      this.attempt += 1;
      this.scheduleReconnect();
      const reason = e instanceof Pkcs11Error ? e.message : describePkcs11Failure(e);
      // Listeners hear a new reason (no warn line: that is once per loss).
      if (this.current.state !== 'lost' || this.current.reason !== reason) {
        this.setState({ state: 'lost', reason, retryAfterSeconds: this.retryAfterSeconds() });
      }
      return;
    }
    if (this.closed) {
      pool.close(new Pkcs11Error(`PKCS#11 ${this.tokenName} is closed`, undefined));
      return;
    }
    this.pool = pool;
    this.attempt = 0;
    this.setState({ state: 'ready' });
    this.options.warn?.(`PKCS#11 ${this.tokenName} reconnected`);
  }
}

function verifiesWith(candidate: FoundKey, message: Buffer, signature: Buffer): boolean {
  return signatureVerifies(caKeySpec(candidate.algorithm), candidate.spki, message, signature);
}
