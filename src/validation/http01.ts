import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { Identifier } from '../core/identifier.js';
import type { IpRange } from '../core/ip-range.js';
import { AcmeProblem, type ProblemType } from '../core/problem.js';
import { addressGuard, type AddressGuard } from './address-guard.js';
import type { OwnEndpoint } from './own-endpoint.js';
import type { NameResolver } from './resolver.js';

export interface Http01Options {
  /** Port of the first request; 80 unless an operator's private network says otherwise. */
  port: number;
  /** Bound on the whole validation: every DNS lookup, connection and redirect. */
  timeoutMs: number;
  resolver: NameResolver;
  maxRedirects?: number;
  maxBodyBytes?: number;
  /** certmint's own listener: never connected to, whether the first request or a redirect leads there. */
  isOwnEndpoint?: OwnEndpoint;
  /** validation.deniedNetworks: never connected to, like link-local addresses (address-guard.ts), which are refused always. */
  deniedNetworks?: readonly IpRange[];
}

const DEFAULT_MAX_REDIRECTS = 10;
const DEFAULT_MAX_BODY_BYTES = 8 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'certmint-va';
const QUOTE_LIMIT = 100;
/** Boulder follows redirects to ports 80 and 443 only; a private network's http-01 port is added. */
const REDIRECT_PORTS = [80, 443];

/** Where a request is in its life when it fails; a timeout detail says which. */
type Phase = 'connect' | 'response' | 'body';

interface FetchedResponse {
  readonly status: number;
  readonly location: string | undefined;
  /** Only read for a 200; undefined when it was larger than maxBodyBytes. */
  readonly body: Buffer | undefined;
}

/** Not a socket error: the address is certmint's own endpoint, so it was not connected to. */
class OwnEndpointRefused extends Error {}

/** Not a socket error: the address guard refused the address (the words say why), so it was not connected to. */
class AddressRefused extends Error {}

class FetchFailure extends Error {
  constructor(
    readonly phase: Phase,
    readonly reason: unknown,
  ) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

interface Validation {
  readonly identifier: Identifier;
  readonly options: Http01Options;
  readonly maxBodyBytes: number;
  readonly signal: AbortSignal;
  readonly refused: AddressGuard;
}

/**
 * RFC 8555 §8.3: GET http://<identifier>:<port>/.well-known/acme-challenge/<token> and compare
 * the body with the key authorization. Resolves when it matches; throws AcmeProblem otherwise.
 */
export async function validateHttp01(
  identifier: Identifier,
  token: string,
  keyAuthorization: string,
  o: Http01Options,
): Promise<void> {
  const maxRedirects = o.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const controller = new AbortController();
  // One deadline for everything, so a chain of slow redirects cannot stretch a validation.
  const timer = setTimeout(() => controller.abort(), o.timeoutMs);
  const v: Validation = {
    identifier,
    options: o,
    maxBodyBytes: o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    signal: controller.signal,
    refused: addressGuard(o.deniedNetworks),
  };
  try {
    const host = isIP(identifier.value) === 6 ? `[${identifier.value}]` : identifier.value;
    let url = new URL(`http://${host}:${o.port}/.well-known/acme-challenge/${token}`);
    for (let followed = 0; ; followed++) {
      const response = await fetchUrl(url, v);
      if (REDIRECT_STATUSES.has(response.status) && response.location !== undefined) {
        if (followed >= maxRedirects) {
          throw problem(v, 'connection', `Fetching ${url.href}: Too many redirects (more than ${maxRedirects})`);
        }
        url = redirectTarget(url, response.location, v);
        continue;
      }
      checkResponse(url, response, keyAuthorization, v);
      return;
    }
  } finally {
    clearTimeout(timer);
  }
}

function checkResponse(url: URL, response: FetchedResponse, keyAuthorization: string, v: Validation): void {
  if (response.status !== 200) {
    // Boulder's reading: the server answered, but not with the challenge, so the applicant
    // has not shown control of it.
    throw problem(v, 'unauthorized', `Invalid response from ${url.href}: ${response.status}`);
  }
  if (response.body === undefined) {
    throw problem(
      v,
      'incorrectResponse',
      `Invalid response from ${url.href}: the body was too large (more than ${v.maxBodyBytes} bytes)`,
    );
  }
  // RFC 8555 §8.3: the server ignores whitespace around the key authorization.
  const got = response.body.toString('utf8').trim();
  if (got !== keyAuthorization) {
    // Never the body itself: a name or redirect may have led to an internal page (issue 19), and
    // quoting it would read that page back to whoever asked. Its size and status only.
    throw problem(
      v,
      'incorrectResponse',
      `The key authorization file from the server did not match this challenge: expected ${quote(keyAuthorization)} (${Buffer.byteLength(keyAuthorization)} bytes), got a different body of ${response.body.length} bytes from ${url.href} (status ${response.status})`,
    );
  }
}

/**
 * RFC 8555 §10.2 leaves redirects to the CA; like Boulder, follow them only to http or https on
 * 80 and 443, plus the configured http-01 port so private setups on other ports work. Any other
 * port is refused here, before any connection, so the detail is the same whether something
 * listens there or not: a client cannot scan other ports through the validator.
 */
function redirectTarget(from: URL, location: string, v: Validation): URL {
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    // Not quoted: the header may come from an internal server a redirect led to.
    throw problem(v, 'connection', `Fetching ${from.href}: Invalid redirect location: the Location header (${Buffer.byteLength(location)} bytes) is not a URL`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw problem(
      v,
      'connection',
      `Fetching ${from.href}: Invalid protocol scheme in redirect target ${target.href}. Only "http" and "https" are supported`,
    );
  }
  const port = portOf(target);
  const ports = REDIRECT_PORTS.includes(v.options.port) ? REDIRECT_PORTS : [...REDIRECT_PORTS, v.options.port];
  if (!ports.includes(port)) {
    throw problem(
      v,
      'connection',
      `Fetching ${from.href}: Invalid port in redirect target ${target.href}. Only ports ${ports.slice(0, -1).join(', ')} and ${ports.at(-1)} are supported, not ${port}`,
    );
  }
  return target;
}

async function fetchUrl(url: URL, v: Validation): Promise<FetchedResponse> {
  const name = hostName(url);
  let addresses: string[];
  try {
    addresses = await v.options.resolver.resolve(name, v.signal);
  } catch (err) {
    if (err instanceof AcmeProblem) throw problem(v, err.type, err.detail);
    throw problem(v, 'dns', `DNS problem: looking up ${name}: ${String(err)}`);
  }
  let lastFailure: { address: string; failure: FetchFailure } | undefined;
  for (const address of addresses) {
    if (v.options.isOwnEndpoint?.(address, portOf(url))) {
      // Another address of the name may be the applicant's; try it.
      lastFailure = { address, failure: new FetchFailure('connect', new OwnEndpointRefused()) };
      continue;
    }
    // The address connected to below is this one, checked here: no second lookup to rebind.
    const refusal = v.refused(address);
    if (refusal !== undefined) {
      lastFailure = { address, failure: new FetchFailure('connect', new AddressRefused(refusal)) };
      continue;
    }
    try {
      return await fetchFrom(url, address, v);
    } catch (err) {
      const failure = err instanceof FetchFailure ? err : new FetchFailure('connect', err);
      lastFailure = { address, failure };
      // Another address of the same name may answer; anything past connecting is final.
      if (v.signal.aborted || failure.phase !== 'connect' || !CONNECT_FAILURES.has(errorCode(failure.reason) ?? '')) {
        break;
      }
    }
  }
  if (!lastFailure) throw problem(v, 'dns', `DNS problem: no addresses found for ${name}`);
  throw failureProblem(url, lastFailure.address, lastFailure.failure, v);
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** One GET to one address; rejects with FetchFailure. Leaves no socket open when it settles. */
function fetchFrom(url: URL, address: string, v: Validation): Promise<FetchedResponse> {
  return new Promise((resolve, reject) => {
    let phase: Phase = 'connect';
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      v.signal.removeEventListener('abort', onAbort);
      req.destroy();
      outcome();
    };
    const fail = (err: unknown): void => finish(() => reject(new FetchFailure(phase, err)));
    // The deadline destroys the request, whichever phase it is in.
    const onAbort = (): void => fail(new Error('validation deadline reached'));

    const onResponse = (res: IncomingMessage): void => {
      phase = 'body';
      res.on('error', fail);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status !== 200) {
        finish(() => resolve({ status, location, body: undefined }));
        return;
      }
      const tooLarge = (): void => finish(() => resolve({ status, location, body: undefined }));
      if (Number(res.headers['content-length'] ?? 0) > v.maxBodyBytes) {
        tooLarge();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > v.maxBodyBytes) tooLarge();
        else chunks.push(chunk);
      });
      res.on('end', () => finish(() => resolve({ status, location, body: Buffer.concat(chunks) })));
    };

    const https = url.protocol === 'https:';
    const name = hostName(url);
    const common = {
      // Connect to the address we resolved (no second lookup, no proxy), but speak to the name.
      host: address,
      port: portOf(url),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      // RFC 8555 §8.3 / RFC 9110 §7.2: Host is the identifier (with the port when not the default).
      headers: { Host: url.host, 'User-Agent': USER_AGENT, Accept: '*/*', Connection: 'close' },
      agent: false as const,
    };
    const req: ClientRequest = https
      ? httpsRequest(
          {
            ...common,
            // RFC 8555 §8.3 / Boulder: a redirect to https is followed without checking the
            // certificate (the challenge proves control, not TLS), but SNI names the host.
            rejectUnauthorized: false,
            ...(isIP(name) === 0 ? { servername: name } : {}),
          },
          onResponse,
        )
      : httpRequest(common, onResponse);
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        if (phase === 'connect') phase = 'response';
      });
    });
    req.on('error', fail);
    if (v.signal.aborted) onAbort();
    else v.signal.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}

function failureProblem(url: URL, address: string, failure: FetchFailure, v: Validation): AcmeProblem {
  const endpoint = isIP(address) === 6 ? `[${address}]:${portOf(url)}` : `${address}:${portOf(url)}`;
  const fetching = `Fetching ${url.href}`;
  if (failure.reason instanceof OwnEndpointRefused) {
    return problem(v, 'connection', `${fetching}: ${endpoint} is this CA's own endpoint; validation does not connect to it`);
  }
  if (failure.reason instanceof AddressRefused) {
    return problem(v, 'connection', `${fetching}: ${endpoint} ${failure.reason.message}`);
  }
  if (v.signal.aborted) {
    const after = `Timeout after ${seconds(v.options.timeoutMs)}`;
    const what = {
      connect: `connecting to ${endpoint}`,
      response: `waiting for a response from ${endpoint}`,
      body: `reading the response from ${endpoint}`,
    }[failure.phase];
    return problem(v, 'connection', `${fetching}: ${after} ${what}`);
  }
  const code = errorCode(failure.reason) ?? '';
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return problem(v, 'tls', `${fetching}: TLS error with ${endpoint}: ${failure.message}`);
  }
  if (code.startsWith('HPE_')) {
    return problem(v, 'connection', `${fetching}: Malformed HTTP response from ${endpoint}: ${failure.message}`);
  }
  const reason =
    code === 'ECONNRESET' && failure.message === 'socket hang up'
      ? 'Connection closed before a response'
      : (CONNECTION_ERRORS[code] ?? failure.message);
  return problem(v, 'connection', `${fetching}: Error connecting to ${endpoint}: ${reason}`);
}

const CONNECTION_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EHOSTUNREACH: 'Host unreachable',
  ENETUNREACH: 'Network unreachable',
  EADDRNOTAVAIL: 'Address not available',
  EPIPE: 'Connection closed by peer',
};

function problem(v: Validation, type: ProblemType, detail: string): AcmeProblem {
  return new AcmeProblem(type, detail, { identifier: v.identifier });
}

/** The URL's host without IPv6 brackets: what DNS, SNI and connect() take. */
function hostName(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function seconds(ms: number): string {
  return `${ms / 1000}s`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}…` : text);
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
