import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';

/** The console's session cookie: HttpOnly, Secure, SameSite=Strict, scoped to the admin paths' base. */
export const SESSION_COOKIE = 'certmint_console';
/** Where a state-changing request made with the session cookie carries its CSRF token. */
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_FIELD = '_csrf';

export interface ConsoleSession {
  /** SHA-256 of the admin token signed in with: checked against the ledger on every request. */
  readonly tokenHash: Buffer;
  /** Sent in pages (forms, htmx headers), never in a cookie: another site cannot read it. */
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

export interface SessionLimits {
  /** A session unused this long ends (default 15 minutes). */
  readonly idleMs: number;
  /** And any session ends this long after sign-in (default 8 hours). */
  readonly maxMs: number;
  /** Sessions kept at once; the least recently used goes first (default 10,000). */
  readonly maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 15 * 60_000, maxMs: 8 * 3600_000, maxSessions: 10_000 };

const key = (id: string) => createHash('sha256').update(id, 'utf8').digest('hex');

/**
 * Console sessions, in this process's memory: the cookie holds 32 random bytes, the map their
 * SHA-256 (a heap dump names no usable cookie). A restart signs everyone out; behind a load
 * balancer the console wants sticky sessions or one instance's admin.listen
 * (docs/console-and-admin-api.md). The admin token itself is never kept, only its hash, and the
 * token is looked up on every request, so revoking it ends its sessions.
 */
export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(
    private readonly clock: Clock,
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
  ) {}

  /** A new session for the token with this hash: the cookie value and the session. */
  create(tokenHash: Uint8Array): { id: string; session: ConsoleSession } {
    const now = this.clock.now().getTime();
    const id = randomBytes(32).toString('base64url');
    const session: ConsoleSession = { tokenHash: Buffer.from(tokenHash), csrf: randomBytes(24).toString('base64url'), createdAt: now, lastSeenAt: now };
    while (this.sessions.size >= this.limits.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (oldest.done) break;
      this.sessions.delete(oldest.value);
    }
    this.sessions.set(key(id), session);
    return { id, session };
  }

  /** The live session of this cookie value (its idle time restarts), or undefined. */
  get(id: string): ConsoleSession | undefined {
    const k = key(id);
    const session = this.sessions.get(k);
    if (!session) return undefined;
    const now = this.clock.now().getTime();
    if (now - session.lastSeenAt >= this.limits.idleMs || now - session.createdAt >= this.limits.maxMs) {
      this.sessions.delete(k);
      return undefined;
    }
    session.lastSeenAt = now;
    // Map order is insertion order: re-inserting keeps the least recently used first.
    this.sessions.delete(k);
    this.sessions.set(k, session);
    return session;
  }

  end(id: string): void {
    this.sessions.delete(key(id));
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** Whether the CSRF token presented is the session's (constant-time). */
export function csrfMatches(session: ConsoleSession, presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(presented), Buffer.from(session.csrf));
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface ThrottleLimits {
  /** Failed sign-ins one client address may make per window (default 5). */
  readonly perAddress: number;
  /** Failed sign-ins from all addresses together per window (default 100). */
  readonly total: number;
  readonly windowMs: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = { perAddress: 5, total: 100, windowMs: 5 * 60_000 };

/**
 * Sign-in attempts, limited by failures in a fixed window per client address and in total. An
 * admin token has 256 random bits, so guessing is hopeless anyway; the limit keeps a scripted
 * guesser from costing the ledger a lookup per try and makes one show in the logs.
 */
export class LoginThrottle {
  private window = 0;
  private readonly failures = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly clock: Clock,
    readonly limits: ThrottleLimits = DEFAULT_THROTTLE,
  ) {}

  private roll(): number {
    const now = this.clock.now().getTime();
    const window = Math.floor(now / this.limits.windowMs);
    if (window !== this.window) {
      this.window = window;
      this.failures.clear();
      this.total = 0;
    }
    return now;
  }

  /** Seconds until this address may try again, or 0 when it may now. */
  retryAfter(address: string): number {
    const now = this.roll();
    if ((this.failures.get(address) ?? 0) < this.limits.perAddress && this.total < this.limits.total) return 0;
    return Math.max(1, Math.ceil(((this.window + 1) * this.limits.windowMs - now) / 1000));
  }

  fail(address: string): void {
    this.roll();
    this.failures.set(address, (this.failures.get(address) ?? 0) + 1);
    this.total++;
  }
}
