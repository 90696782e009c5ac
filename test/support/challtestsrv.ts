import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { request } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './ports.js';

/**
 * Test harness around Debian's `pebble-challtestsrv` (package `pebble`) used as a mock DNS
 * server: A/AAAA/CNAME/TXT/CAA answers and SERVFAIL on demand, set through its management API.
 * Its own http-01, https-01 and tls-alpn-01 servers are switched off: certmint's tests run
 * their own challenge responders.
 *
 * What the Debian build (pebble 2.4.0) really serves: POST with a JSON body to
 *   /add-a /add-aaaa            {"host", "addresses": [...]}
 *   /clear-a /clear-aaaa        {"host"}
 *   /set-cname                  {"host", "target"}   /clear-cname {"host"}
 *   /set-txt                    {"host", "value"}    /clear-txt   {"host"}
 *   /add-caa                    {"host", "policies": [{"tag", "value"}]}  /clear-caa {"host"}
 *   /set-servfail /clear-servfail {"host"}
 *   /set-default-ipv4 /set-default-ipv6 {"ip"} ("" turns the default answer off)
 *   /dns-request-history        {"host"} (without the trailing dot) → JSON list of questions
 *   /clear-request-history, /add-http01, /add-redirect, /add-tlsalpn01 … (unused here)
 * It never answers NXDOMAIN: a name with no data gets NOERROR with an empty answer (NODATA),
 * or the default address when one is set. TXT data is keyed by the fully qualified name, so
 * hosts are always sent with a trailing dot.
 */
export interface ChallTestSrv {
  /** `127.0.0.1:PORT`, ready for `validation.dnsResolvers` or `Resolver.setServers`. */
  readonly dnsAddress: string;
  readonly managementUrl: string;
  addA(host: string, addresses: string | readonly string[]): Promise<void>;
  clearA(host: string): Promise<void>;
  addAAAA(host: string, addresses: string | readonly string[]): Promise<void>;
  clearAAAA(host: string): Promise<void>;
  setCname(host: string, target: string): Promise<void>;
  clearCname(host: string): Promise<void>;
  addTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  addCaa(host: string, policies: readonly { tag: string; value: string }[]): Promise<void>;
  clearCaa(host: string): Promise<void>;
  setServfail(host: string): Promise<void>;
  clearServfail(host: string): Promise<void>;
  /** The address every A query without its own data gets; '' for none (NODATA). */
  setDefaultIPv4(ip: string): Promise<void>;
  setDefaultIPv6(ip: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ChallTestSrvOptions {
  /** Default '127.0.0.1': every name without its own A data resolves here. '' for none. */
  readonly defaultIPv4?: string;
  /** Default '': names without AAAA data get NODATA. */
  readonly defaultIPv6?: string;
  readonly binary?: string;
}

const STARTUP_TIMEOUT_MS = 10_000;
const ATTEMPTS = 3;

export async function startChallTestSrv(options: ChallTestSrvOptions = {}): Promise<ChallTestSrv> {
  let lastError: Error | undefined;
  // freePort() can race with another process taking the port; a fresh pair usually fixes it.
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      return await startOnce(options);
    } catch (err) {
      lastError = err instanceof Error ? err : new Error(String(err));
    }
  }
  throw lastError ?? new Error('pebble-challtestsrv did not start');
}

async function startOnce(options: ChallTestSrvOptions): Promise<ChallTestSrv> {
  const dnsPort = await freePort();
  const managementPort = await freePort();
  const dnsAddress = `127.0.0.1:${dnsPort}`;
  const managementUrl = `http://127.0.0.1:${managementPort}`;
  const child = spawn(
    options.binary ?? 'pebble-challtestsrv',
    [
      '-http01', '',
      '-https01', '',
      '-tlsalpn01', '',
      '-dns01', dnsAddress,
      '-management', `127.0.0.1:${managementPort}`,
      '-defaultIPv4', options.defaultIPv4 ?? '127.0.0.1',
      '-defaultIPv6', options.defaultIPv6 ?? '',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );

  // Keep the tail of its log for error messages, and keep the pipes drained so it never blocks.
  let log = '';
  const keepLog = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keepLog);
  child.stderr?.on('data', keepLog);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', (err) => {
      keepLog(Buffer.from(String(err)));
      exited = true;
      resolve();
    });
  });

  try {
    await waitUntilReady(managementUrl, dnsAddress, () => exited);
  } catch (err) {
    await stopChild(child, exit, () => exited);
    throw new Error(`pebble-challtestsrv did not start: ${(err as Error).message}\n${log}`);
  }

  const post = async (path: string, body: object): Promise<void> => {
    const status = await postJson(`${managementUrl}${path}`, body);
    if (status !== 200) throw new Error(`pebble-challtestsrv ${path} ${JSON.stringify(body)} answered ${status}`);
  };
  const list = (addresses: string | readonly string[]): readonly string[] =>
    typeof addresses === 'string' ? [addresses] : addresses;

  return {
    dnsAddress,
    managementUrl,
    addA: (host, addresses) => post('/add-a', { host: fqdn(host), addresses: list(addresses) }),
    clearA: (host) => post('/clear-a', { host: fqdn(host) }),
    addAAAA: (host, addresses) => post('/add-aaaa', { host: fqdn(host), addresses: list(addresses) }),
    clearAAAA: (host) => post('/clear-aaaa', { host: fqdn(host) }),
    setCname: (host, target) => post('/set-cname', { host: fqdn(host), target: fqdn(target) }),
    clearCname: (host) => post('/clear-cname', { host: fqdn(host) }),
    addTxt: (host, value) => post('/set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => post('/clear-txt', { host: fqdn(host) }),
    addCaa: (host, policies) => post('/add-caa', { host: fqdn(host), policies }),
    clearCaa: (host) => post('/clear-caa', { host: fqdn(host) }),
    setServfail: (host) => post('/set-servfail', { host: fqdn(host) }),
    clearServfail: (host) => post('/clear-servfail', { host: fqdn(host) }),
    setDefaultIPv4: (ip) => post('/set-default-ipv4', { ip }),
    setDefaultIPv6: (ip) => post('/set-default-ipv6', { ip }),
    stop: () => stopChild(child, exit, () => exited),
  };
}

function fqdn(host: string): string {
  return host.endsWith('.') ? host : `${host}.`;
}

/** Start-up only: poll until the management API answers and the DNS port replies. */
async function waitUntilReady(managementUrl: string, dnsAddress: string, hasExited: () => boolean): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([dnsAddress]);
  for (;;) {
    if (hasExited()) throw new Error('the process exited');
    if (await answers(managementUrl, resolver)) return;
    if (Date.now() > deadline) throw new Error(`no answer on ${managementUrl} and ${dnsAddress} within ${STARTUP_TIMEOUT_MS} ms`);
    await delay(25);
  }
}

async function answers(managementUrl: string, resolver: Resolver): Promise<boolean> {
  try {
    // Any HTTP status (its root is a 404) means the management server listens.
    await getStatus(`${managementUrl}/`);
  } catch {
    return false;
  }
  try {
    await resolver.resolve4('ready.challtestsrv.invalid');
    return true;
  } catch (err) {
    // NODATA is an answer; refused or timed out means the DNS listener is not up yet.
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENODATA' || code === 'ENOTFOUND';
  }
}

async function stopChild(child: ChildProcess, exit: Promise<void>, hasExited: () => boolean): Promise<void> {
  if (!hasExited()) child.kill('SIGTERM');
  await exit;
}

function getStatus(url: string): Promise<number> {
  return httpCall(url, 'GET', undefined);
}

function postJson(url: string, body: object): Promise<number> {
  return httpCall(url, 'POST', JSON.stringify(body));
}

function httpCall(url: string, method: string, body: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.once('error', reject);
    req.end(body);
  });
}
