import type { CaaRecord } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AcmeProblem } from '../core/problem.js';
import { HostsFile } from './hosts-file.js';
import { ResolvConf, searchNames } from './resolv-conf.js';

/** Turns a host name into the addresses a validation connects to, IPv4 first. */
export interface NameResolver {
  /** @throws AcmeProblem('dns') when the name has no address or the lookup fails. */
  resolve(name: string, signal?: AbortSignal): Promise<string[]>;
  /**
   * The TXT values at name (each record's strings joined), CNAMEs followed. NXDOMAIN and NODATA
   * throw too, unless `absentAsEmpty` (dns-persist-01 tells "no record" from a failed lookup).
   * @throws AcmeProblem('dns')
   */
  resolveTxt(name: string, signal?: AbortSignal, o?: TxtOptions): Promise<string[]>;
  /** The CAA records at name itself (CNAMEs followed); [] for NXDOMAIN or NODATA. @throws AcmeProblem('dns') */
  resolveCaa(name: string, signal?: AbortSignal): Promise<CaaRecord[]>;
}

export interface TxtOptions {
  /** NXDOMAIN or NODATA answer [] instead of throwing. */
  readonly absentAsEmpty?: boolean;
}

/** Where the system resolver's files are: the system's unless a test gives its own. */
export interface ResolverOptions {
  /** The hosts file answered from when no resolvers are configured (/etc/hosts). */
  readonly hostsFile?: string;
  /** Where the search list and ndots are read (/etc/resolv.conf). */
  readonly resolvConf?: string;
  /** The nameservers asked instead of resolv.conf's, which c-ares reads itself (`host:port`). */
  readonly nameservers?: readonly string[];
}

/**
 * `dnsResolvers` empty: what the system resolver answers, without its thread pool. Names in the
 * hosts file (/etc/hosts: `localhost` and whatever the operator put there) get its addresses;
 * every other name is asked of the nameservers of /etc/resolv.conf (c-ares reads it when a
 * Resolver is made), trying its search list as getaddrinfo does. getaddrinfo (dns.lookup) is
 * never called: it runs on libuv's thread pool, 4 threads shared with the whole process, and a
 * lookup whose DNS never answers keeps its thread until glibc gives up, so twenty such names
 * starved every other validation (issue 20).
 * Otherwise A and AAAA queries go to those servers (`host:port`, IPv6 as `[::1]:53`) and nowhere
 * else, the hosts file unread; CNAMEs are followed by the resolver.
 */
export function createResolver(dnsResolvers: readonly string[], timeoutMs: number, o: ResolverOptions = {}): NameResolver {
  if (dnsResolvers.length === 0) {
    const resolvConf = new ResolvConf(o.resolvConf);
    // c-ares reads resolv.conf's nameservers when a channel is made: an edit retires the kept ones.
    const channels = new Channels(o.nameservers, timeoutMs, () => resolvConf.rules());
    return new SystemResolver(new HostsFile(o.hostsFile), resolvConf, new ServerResolver(channels));
  }
  // Fail at start-up, not at the first validation, when a server address is malformed.
  new Resolver().setServers([...dnsResolvers]);
  return new ServerResolver(new Channels([...dnsResolvers], timeoutMs));
}

/** Idle channels kept at most: about the validations a busy server runs at once. */
const MAX_IDLE_CHANNELS = 64;

/** A channel lent to one lookup; `done` gives it back unless the lookup cancelled it. */
interface ChannelLease {
  readonly resolver: Resolver;
  done(cancelled: boolean): void;
}

/**
 * c-ares channels, each serving one lookup at a time. Resolver.cancel() cancels everything on its
 * channel, and an aborted validation must not cancel another one's queries, so no two lookups
 * share a channel at once; a cancelled channel is dropped. Between lookups a channel is kept:
 * making one (ares_init, reading resolv.conf, setting servers) cost about 0.13 ms of the event
 * loop per validation (issue 27). Reuse does not reuse the socket: without ARES_FLAG_STAYOPEN
 * c-ares closes a channel's UDP socket when its last query ends, so every lookup still leaves
 * from a fresh source port (resolver.test.ts checks both).
 */
class Channels {
  private idle: Resolver[] = [];
  private generation: unknown;

  constructor(
    /** undefined: the nameservers of /etc/resolv.conf. */
    private readonly servers: readonly string[] | undefined,
    readonly timeoutMs: number,
    /** Changes when channels made before are stale (resolv.conf edited); idle ones are then dropped. */
    private readonly currentGeneration: () => unknown = () => undefined,
  ) {}

  lease(): ChannelLease {
    const generation = this.currentGeneration();
    if (generation !== this.generation) {
      this.idle = [];
      this.generation = generation;
    }
    const resolver = this.idle.pop() ?? this.create();
    return {
      resolver,
      done: (cancelled) => {
        if (!cancelled && generation === this.generation && this.idle.length < MAX_IDLE_CHANNELS) this.idle.push(resolver);
      },
    };
  }

  private create(): Resolver {
    // Two tries, so one lost UDP packet is not a failed validation. c-ares backs off (and
    // jitters) between tries, so a timer of the lookup's own holds it to timeoutMs.
    const resolver = new Resolver({ timeout: Math.max(1, Math.floor(this.timeoutMs / 3)), tries: 2 });
    if (this.servers) resolver.setServers([...this.servers]);
    return resolver;
  }
}

type RecordType = 'A' | 'AAAA' | 'TXT' | 'CAA';

class ServerResolver implements NameResolver {
  constructor(private readonly channels: Channels) {}

  resolveTxt(name: string, signal?: AbortSignal, o?: TxtOptions): Promise<string[]> {
    return queryTxt(this.channels, name, signal, o);
  }

  resolveCaa(name: string, signal?: AbortSignal): Promise<CaaRecord[]> {
    return queryCaa(this.channels, name, signal);
  }

  async resolve(name: string, signal?: AbortSignal): Promise<string[]> {
    if (isIP(name) !== 0) return [name];
    const found = await this.addressesOf(name, signal);
    if ('absent' in found) throw found.absent;
    return found.addresses;
  }

  /**
   * A and AAAA for `name`: its addresses, or `absent` (the problem to report) when the name does
   * not exist or has neither type (NXDOMAIN, NODATA). @throws AcmeProblem for any other failure.
   */
  async addressesOf(name: string, signal?: AbortSignal): Promise<{ addresses: string[] } | { absent: AcmeProblem }> {
    throwIfAborted(name, signal, 'A');
    const channel = this.channels.lease();
    const resolver = channel.resolver;
    let cancelled = false;
    const onAbort = (): void => {
      cancelled = true;
      resolver.cancel();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = setTimeout(onAbort, this.channels.timeoutMs);
    try {
      const [a, aaaa] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
      throwIfAborted(name, signal, 'A');
      const addresses = [...fulfilled(a), ...fulfilled(aaaa)];
      if (addresses.length > 0) return { addresses };
      // Both failed or were empty: report the more telling failure. NODATA on one type says
      // less than NXDOMAIN or SERVFAIL on the other.
      const failures: [RecordType, PromiseSettledResult<string[]>][] = [
        ['A', a],
        ['AAAA', aaaa],
      ];
      for (const [type, result] of failures) {
        if (result.status === 'rejected' && !isNoData(result.reason)) {
          const problem = dnsProblem(name, type, result.reason);
          if (failures.every(([, r]) => r.status === 'fulfilled' || isAbsent(r.reason))) return { absent: problem };
          throw problem;
        }
      }
      return { absent: new AcmeProblem('dns', `DNS problem: NODATA, no A or AAAA records found for ${name}`) };
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
      channel.done(cancelled);
    }
  }
}

/** One TXT query through a channel of `channels`, bounded by their timeoutMs and the signal. */
async function queryTxt(channels: Channels, name: string, signal?: AbortSignal, o: TxtOptions = {}): Promise<string[]> {
  const records = await query(channels, name, 'TXT', signal, async (r) => {
    try {
      return await r.resolveTxt(name);
    } catch (err) {
      if (o.absentAsEmpty && isAbsent(err)) return [];
      throw err;
    }
  });
  return records.map((chunks) => chunks.join(''));
}

/** RFC 8659 §3: a name without CAA records (NXDOMAIN or NODATA) is an empty set, not a failure. */
async function queryCaa(channels: Channels, name: string, signal?: AbortSignal): Promise<CaaRecord[]> {
  return query(channels, name, 'CAA', signal, async (r) => {
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
  channels: Channels,
  name: string,
  type: RecordType,
  signal: AbortSignal | undefined,
  run: (resolver: Resolver) => Promise<T>,
): Promise<T> {
  throwIfAborted(name, signal, type);
  const channel = channels.lease();
  let cancelled = false;
  const onAbort = (): void => {
    cancelled = true;
    channel.resolver.cancel();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = setTimeout(onAbort, channels.timeoutMs);
  try {
    return await run(channel.resolver);
  } catch (err) {
    throwIfAborted(name, signal, type);
    throw dnsProblem(name, type, err);
  } finally {
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onAbort);
    channel.done(cancelled);
  }
}

/**
 * The hosts file first, then DNS through the system's nameservers: the order of glibc's default
 * `hosts: files dns`. A name the file lists is answered from it alone, as glibc's files source
 * answers it. TXT and CAA never come from the hosts file (it has none).
 */
class SystemResolver implements NameResolver {
  constructor(
    private readonly hosts: HostsFile,
    private readonly resolvConf: ResolvConf,
    private readonly dns: ServerResolver,
  ) {}

  resolveTxt(name: string, signal?: AbortSignal, o?: TxtOptions): Promise<string[]> {
    return this.dns.resolveTxt(name, signal, o);
  }

  resolveCaa(name: string, signal?: AbortSignal): Promise<CaaRecord[]> {
    return this.dns.resolveCaa(name, signal);
  }

  async resolve(name: string, signal?: AbortSignal): Promise<string[]> {
    if (isIP(name) !== 0) return [name];
    throwIfAborted(name, signal);
    const fromHosts = this.hosts.lookup(name);
    if (fromHosts) return fromHosts;
    // The search list (a pod's `web.team.svc` is web.team.svc.cluster.local): a candidate that does
    // not exist leads to the next; any other failure (SERVFAIL, no answer) is the answer, as the
    // validation's time is bounded. The problem reported is the one for the name itself.
    let problem: AcmeProblem | undefined;
    for (const candidate of searchNames(name, this.resolvConf.rules())) {
      const found = await this.dns.addressesOf(candidate, signal);
      if ('addresses' in found) return found.addresses;
      if (candidate === name || !problem) problem = found.absent;
    }
    throw problem!;
  }
}

function fulfilled(result: PromiseSettledResult<string[]>): string[] {
  return result.status === 'fulfilled' ? result.value : [];
}

function isNoData(err: unknown): boolean {
  return errorCode(err) === 'ENODATA';
}

/** NXDOMAIN or NODATA: the name (or its record type) is not there, as opposed to a failed lookup. */
function isAbsent(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOTFOUND' || code === 'ENODATA';
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

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
