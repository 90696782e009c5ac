import type { CaaRecord } from 'node:dns';
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AcmeProblem } from '../core/problem.js';

/** Turns a host name into the addresses a validation connects to, IPv4 first. */
export interface NameResolver {
  /** @throws AcmeProblem('dns') when the name has no address or the lookup fails. */
  resolve(name: string, signal?: AbortSignal): Promise<string[]>;
  /** The TXT values at name (each record's strings joined), CNAMEs followed. @throws AcmeProblem('dns') */
  resolveTxt(name: string, signal?: AbortSignal): Promise<string[]>;
  /** The CAA records at name itself (CNAMEs followed); [] for NXDOMAIN or NODATA. @throws AcmeProblem('dns') */
  resolveCaa(name: string, signal?: AbortSignal): Promise<CaaRecord[]>;
}

/**
 * `dnsResolvers` empty: the system resolver (getaddrinfo), so /etc/hosts and `localhost` work,
 * as a CA on a private network usually wants. Otherwise A and AAAA queries go to those servers
 * (`host:port`, IPv6 as `[::1]:53`) and nowhere else; CNAMEs are followed by the resolver.
 */
export function createResolver(dnsResolvers: readonly string[], timeoutMs: number): NameResolver {
  if (dnsResolvers.length === 0) return new SystemResolver(timeoutMs);
  // Fail at start-up, not at the first validation, when a server address is malformed.
  new Resolver().setServers([...dnsResolvers]);
  return new ServerResolver([...dnsResolvers], timeoutMs);
}

type RecordType = 'A' | 'AAAA' | 'TXT' | 'CAA';

class ServerResolver implements NameResolver {
  constructor(
    private readonly servers: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  resolveTxt(name: string, signal?: AbortSignal): Promise<string[]> {
    return queryTxt(this.servers, this.timeoutMs, name, signal);
  }

  resolveCaa(name: string, signal?: AbortSignal): Promise<CaaRecord[]> {
    return queryCaa(this.servers, this.timeoutMs, name, signal);
  }

  async resolve(name: string, signal?: AbortSignal): Promise<string[]> {
    if (isIP(name) !== 0) return [name];
    throwIfAborted(name, signal, 'A');
    // One channel per lookup: Resolver.cancel() cancels everything on its channel, and an
    // aborted validation must not cancel another one's queries.
    // Two tries, so one lost UDP packet is not a failed validation. c-ares backs off (and
    // jitters) between tries, so a timer of our own holds the lookup to timeoutMs.
    const resolver = new Resolver({ timeout: Math.max(1, Math.floor(this.timeoutMs / 3)), tries: 2 });
    resolver.setServers([...this.servers]);
    const onAbort = (): void => resolver.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = setTimeout(onAbort, this.timeoutMs);
    try {
      const [a, aaaa] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
      throwIfAborted(name, signal, 'A');
      const addresses = [...fulfilled(a), ...fulfilled(aaaa)];
      if (addresses.length > 0) return addresses;
      // Both failed or were empty: report the more telling failure. NODATA on one type says
      // less than NXDOMAIN or SERVFAIL on the other.
      const failures: [RecordType, PromiseSettledResult<string[]>][] = [
        ['A', a],
        ['AAAA', aaaa],
      ];
      for (const [type, result] of failures) {
        if (result.status === 'rejected' && !isNoData(result.reason)) throw dnsProblem(name, type, result.reason);
      }
      throw new AcmeProblem('dns', `DNS problem: NODATA, no A or AAAA records found for ${name}`);
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** One TXT query through `servers` (undefined: the system's), bounded by timeoutMs and the signal. */
async function queryTxt(servers: readonly string[] | undefined, timeoutMs: number, name: string, signal?: AbortSignal): Promise<string[]> {
  const records = await query(servers, timeoutMs, name, 'TXT', signal, (r) => r.resolveTxt(name));
  return records.map((chunks) => chunks.join(''));
}

/** RFC 8659 §3: a name without CAA records (NXDOMAIN or NODATA) is an empty set, not a failure. */
async function queryCaa(servers: readonly string[] | undefined, timeoutMs: number, name: string, signal?: AbortSignal): Promise<CaaRecord[]> {
  return query(servers, timeoutMs, name, 'CAA', signal, async (r) => {
    try {
      return await r.resolveCaa(name);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOTFOUND' || code === 'ENODATA') return [];
      throw err;
    }
  });
}

async function query<T>(
  servers: readonly string[] | undefined,
  timeoutMs: number,
  name: string,
  type: RecordType,
  signal: AbortSignal | undefined,
  run: (resolver: Resolver) => Promise<T>,
): Promise<T> {
  throwIfAborted(name, signal, type);
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 3)), tries: 2 });
  if (servers) resolver.setServers([...servers]);
  const onAbort = (): void => resolver.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = setTimeout(onAbort, timeoutMs);
  try {
    return await run(resolver);
  } catch (err) {
    throwIfAborted(name, signal, type);
    throw dnsProblem(name, type, err);
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onAbort);
  }
}

class SystemResolver implements NameResolver {
  constructor(private readonly timeoutMs = 10_000) {}

  resolveTxt(name: string, signal?: AbortSignal): Promise<string[]> {
    return queryTxt(undefined, this.timeoutMs, name, signal);
  }

  resolveCaa(name: string, signal?: AbortSignal): Promise<CaaRecord[]> {
    return queryCaa(undefined, this.timeoutMs, name, signal);
  }

  async resolve(name: string, signal?: AbortSignal): Promise<string[]> {
    if (isIP(name) !== 0) return [name];
    throwIfAborted(name, signal);
    // getaddrinfo cannot be cancelled; an abort stops the wait, the lookup finishes in the
    // thread pool and is dropped.
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(timeoutProblem(name));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const found = await Promise.race([lookup(name, { all: true }), aborted]);
      const addresses = [
        ...found.filter((f) => f.family === 4).map((f) => f.address),
        ...found.filter((f) => f.family === 6).map((f) => f.address),
      ];
      if (addresses.length === 0) throw new AcmeProblem('dns', `DNS problem: no addresses found for ${name}`);
      return addresses;
    } catch (err) {
      if (err instanceof AcmeProblem) throw err;
      throw new AcmeProblem('dns', `DNS problem: ${systemErrorName(err)} looking up ${name}`);
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }
}

function fulfilled(result: PromiseSettledResult<string[]>): string[] {
  return result.status === 'fulfilled' ? result.value : [];
}

function isNoData(err: unknown): boolean {
  return errorCode(err) === 'ENODATA';
}

function throwIfAborted(name: string, signal: AbortSignal | undefined, type?: RecordType): void {
  if (signal?.aborted) throw timeoutProblem(name, type);
}

/**
 * The validation's deadline and the lookup's own timer are the same length and race: either way
 * the applicant reads the same words (those of ETIMEOUT below).
 */
function timeoutProblem(name: string, type?: RecordType): AcmeProblem {
  return new AcmeProblem('dns', `DNS problem: query timed out looking up ${type ? `${type} for ` : ''}${name}`);
}

/** c-ares error codes in the words of DNS (RFC 1035 RCODEs) where there is one. */
const ARES_CODES: Readonly<Record<string, string>> = {
  ENOTFOUND: 'NXDOMAIN',
  ENODATA: 'NODATA',
  ESERVFAIL: 'SERVFAIL',
  EREFUSED: 'REFUSED',
  ENOTIMP: 'NOTIMP',
  EFORMERR: 'FORMERR',
  EBADRESP: 'malformed response',
  ETIMEOUT: 'query timed out',
  // Nothing listens where validation.dnsResolvers points: the CA's side, not the applicant's zone.
  ECONNREFUSED: "the CA's DNS resolver is unreachable (connection refused)",
  ECANCELLED: 'query timed out',
};

function dnsProblem(name: string, type: RecordType, err: unknown): AcmeProblem {
  const code = errorCode(err);
  const what = (code && ARES_CODES[code]) ?? code ?? String(err);
  return new AcmeProblem('dns', `DNS problem: ${what} looking up ${type} for ${name}`);
}

/** getaddrinfo reports NXDOMAIN and NODATA alike as ENOTFOUND, and SERVFAIL or timeouts as EAI_AGAIN. */
function systemErrorName(err: unknown): string {
  const code = errorCode(err);
  if (code === 'ENOTFOUND') return 'no such host (ENOTFOUND)';
  if (code === 'EAI_AGAIN') return 'temporary failure, SERVFAIL or timeout (EAI_AGAIN)';
  return code ?? String(err);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
