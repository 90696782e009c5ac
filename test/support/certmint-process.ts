import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { startChallTestSrv, type ChallTestSrv, type ChallTestSrvOptions } from './challtestsrv.js';
import { logCliOutput } from './cli.js';
import { startFilesNamespace, startMountNamespace, type DataDisk, type FilesNamespace, type MountNamespace } from './mount-namespace.js';
import { freePort } from './ports.js';
import { linesLeakingSecrets, secretsOfDataDir } from './secret-scan.js';
import { registerSecrets, suiteLog } from './suite-log.js';
import { merge } from '../../src/config/config.js';

/**
 * `certmint serve` as a real child process, the way a user runs it: built CLI, YAML config,
 * its own CA in a temporary data directory, HTTPS with a certificate from that CA, and
 * pebble-challtestsrv as its only DNS resolver (every name → 127.0.0.1 unless told otherwise).
 * End-to-end suites point real ACME clients at `directoryUrl` and trust `rootFile`.
 */
export interface CertmintProcess {
  /** e.g. https://localhost:41234 (what the server says in its "ACME directory at" log line). */
  readonly baseUrl: string;
  readonly directoryUrl: string;
  /**
   * The server's own listener, https://127.0.0.1:<port> (http:// without TLS): the same as baseUrl
   * unless the server runs behind a proxy, whose URL baseUrl then is (`behindProxy`).
   */
  readonly directUrl: string;
  /** What `<baseUrl>/roots.pem` served: the roots clients should trust. */
  readonly rootPem: string;
  /** `rootPem` on disk, for REQUESTS_CA_BUNDLE, LEGO_CA_CERTIFICATES, `openssl verify -CAfile`. */
  readonly rootFile: string;
  readonly dataDir: string;
  /** Where this process of the test sees the data dir: `dataDir`, or under /proc/<pid>/root with a dataDisk. */
  readonly dataDirView: string;
  /** With a dataDisk: the mount namespace the server runs in, where its data dir's disk is mounted. */
  readonly mountNamespace: MountNamespace | undefined;
  /** Removed by stop(); clients may keep their state and output under it. */
  readonly tempDir: string;
  /** The port certmint fetches http-01 challenges from; the client under test listens there. */
  readonly http01Port: number;
  /** The port certmint connects to for tls-alpn-01 (validation.tlsAlpn01Port); the client under test listens there. */
  readonly tlsAlpn01Port: number;
  readonly dns: ChallTestSrv;
  readonly process: ChildProcess;
  /** The tail of the server's stdout and stderr, for failure messages. */
  output(): string;
  /**
   * Runs the admin CLI (`certmint <args> --config <the server's config>`) next to the running server
   * (in its mount namespace with a dataDisk), with the server's CERTMINT_FAKE_CLOCK when it has one.
   */
  cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `certmint certs show <serial> --json`, parsed. */
  showCertificate(serial: string): Promise<Record<string, unknown>>;
  /**
   * Stops the server (SIGTERM), runs `whileStopped` (e.g. an admin command on its data dir), and
   * starts `certmint serve` again on the same config, data dir (and its disk), ports and DNS server.
   * The process returned takes over: stop that one; this one's stop() then removes nothing.
   * `{ signal: 'SIGKILL' }` stops it as a crash or a power cut would, without its shutdown; `env`
   * (e.g. a new CERTMINT_FAKE_CLOCK) is merged over the environment it started with, for this and later restarts.
   */
  restart(
    whileStopped?: () => Promise<void>,
    how?: { readonly signal?: 'SIGTERM' | 'SIGKILL'; readonly env?: Readonly<Record<string, string>> },
  ): Promise<CertmintProcess>;
  stop(): Promise<void>;
}

/** A config subtree; nested objects are merged key by key over the generated config. */
export interface ConfigOverrides {
  readonly [key: string]: unknown;
}

export interface CertmintOptions {
  /** Merged over the generated config before it is written as YAML. */
  readonly config?: ConfigOverrides;
  /** CERTMINT_* variables (they win over the file, as in production) or anything else for the child. */
  readonly env?: Readonly<Record<string, string>>;
  readonly challTestSrv?: ChallTestSrvOptions;
  /** Short for `dataDisk: { kind: 'tmpfs', size }`, e.g. "3m": a disk that can fill up. */
  readonly tmpfsDataDir?: string;
  /**
   * Runs the server in a mount namespace of its own (as root) with its data dir on this disk.
   * Reach the files through `dataDirView`, the disk through `mountNamespace`.
   */
  readonly dataDisk?: DataDisk;
  /**
   * A CA directory (another instance's `<dataDir>/ca`) copied into the new data dir before the
   * server starts: instances sharing one ledger must share its CA. Not with a dataDisk.
   */
  readonly seedCaFrom?: string;
  /** Another server's DNS server to validate against instead of a new one; stop() leaves it running. */
  readonly dns?: ChallTestSrv;
  /**
   * server.baseUrl names a proxy that may not answer yet (a load balancer started after its
   * backends): the harness fetches the roots from the server's own listener (`directUrl`).
   */
  readonly behindProxy?: boolean;
  /** More secrets the server must never log (a database password): scanned at stop() and at the end of the run. */
  readonly secrets?: readonly string[];
  /**
   * Files that stand over the system's for the server only (a mount namespace of its own, as
   * root): its /etc/resolv.conf and /etc/hosts, for validation.dnsResolvers: [] (the system
   * resolver). Not with a dataDisk.
   */
  readonly systemFiles?: { readonly resolvConf: string; readonly hosts: string };
}

const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CERTMINT_MAIN = path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');
const READY_TIMEOUT_MS = 20_000;
const KILL_AFTER_MS = 5_000;
const OUTPUT_TAIL = 16_000;
const ATTEMPTS = 3;

export async function startCertmint(options: CertmintOptions = {}): Promise<CertmintProcess> {
  if (!existsSync(CERTMINT_MAIN)) {
    throw new Error(`${CERTMINT_MAIN} is missing: run npm run build first (npm test does it in its pretest hook)`);
  }
  const tempDir = await mkdtemp(path.join(tmpdir(), 'certmint-e2e-'));
  let dns: ChallTestSrv | undefined;
  let namespace: MountNamespace | undefined;
  let files: FilesNamespace | undefined;
  try {
    const disk: DataDisk | undefined = options.dataDisk ?? (options.tmpfsDataDir ? { kind: 'tmpfs', size: options.tmpfsDataDir } : undefined);
    if (disk && options.seedCaFrom) throw new Error('startCertmint: seedCaFrom does not work with a dataDisk');
    if (disk) namespace = await startMountNamespace(disk, path.join(tempDir, 'data'), tempDir);
    if (options.systemFiles) {
      if (disk) throw new Error('startCertmint: systemFiles does not work with a dataDisk');
      const resolvConf = path.join(tempDir, 'resolv.conf');
      const hosts = path.join(tempDir, 'hosts');
      await writeFile(resolvConf, options.systemFiles.resolvConf);
      await writeFile(hosts, options.systemFiles.hosts);
      files = await startFilesNamespace([
        { source: resolvConf, target: '/etc/resolv.conf' },
        { source: hosts, target: '/etc/hosts' },
      ]);
    }
    if (options.seedCaFrom) await cp(options.seedCaFrom, path.join(tempDir, 'data', 'ca'), { recursive: true });
    dns = options.dns ? borrowedDns(options.dns) : await startChallTestSrv(options.challTestSrv);
    let lastError: Error | undefined;
    // freePort() races with other processes taking the port; a fresh one usually fixes it.
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        return await startOnce(options, tempDir, dns, await newServerConfig(options, tempDir, dns), namespace, files);
      } catch (err) {
        lastError = err as Error;
        if (!/EADDRINUSE/.test(lastError.message)) break;
      }
    }
    throw lastError ?? new Error('certmint did not start');
  } catch (err) {
    await dns?.stop();
    await namespace?.close();
    await files?.close();
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
}

/** The config file a server runs with, and what the tests need to know of it. */
interface ServerConfig {
  readonly configFile: string;
  readonly dataDir: string;
  readonly http01Port: number;
  readonly tlsAlpn01Port: number;
  readonly directUrl: string;
}

async function newServerConfig(options: CertmintOptions, tempDir: string, dns: ChallTestSrv): Promise<ServerConfig> {
  const listenPort = await freePort();
  const http01Port = await freePort();
  const tlsAlpn01Port = await freePort();
  const dataDir = path.join(tempDir, 'data');
  const configFile = path.join(tempDir, 'certmint.yaml');
  const generated: ConfigOverrides = {
    server: {
      listen: `127.0.0.1:${listenPort}`,
      tls: { enabled: true, hostnames: ['localhost', '127.0.0.1'] },
    },
    dataDir,
    validation: { http01Port, tlsAlpn01Port, dnsResolvers: [dns.dnsAddress], timeout: '5s' },
  };
  const config = merge(generated, options.config ?? {});
  await writeFile(configFile, toYaml(config));
  // What the server really uses when options.config overrides the generated ports.
  const validation = config.validation as { http01Port?: unknown; tlsAlpn01Port?: unknown };
  const server = config.server as { listen?: unknown; tls?: { enabled?: unknown } };
  const directUrl = `${server.tls?.enabled === false ? 'http' : 'https'}://127.0.0.1:${/:(\d+)$/.exec(String(server.listen))?.[1] ?? listenPort}`;
  const port = (configured: unknown, generated: number) => (typeof configured === 'number' ? configured : generated);
  return { configFile, dataDir, http01Port: port(validation.http01Port, http01Port), tlsAlpn01Port: port(validation.tlsAlpn01Port, tlsAlpn01Port), directUrl };
}

/** A DNS server another test object owns: used as is, never stopped from here. */
function borrowedDns(dns: ChallTestSrv): ChallTestSrv {
  return new Proxy(dns, { get: (target, key) => (key === 'stop' ? async () => undefined : Reflect.get(target, key)) });
}

async function startOnce(
  options: CertmintOptions,
  tempDir: string,
  dns: ChallTestSrv,
  server: ServerConfig,
  namespace: MountNamespace | undefined,
  files?: FilesNamespace,
): Promise<CertmintProcess> {
  const { configFile, dataDir, http01Port, tlsAlpn01Port, directUrl } = server;

  // nsenter execs the server: the child's pid is the server's.
  const nsPid = namespace?.pid ?? files?.pid;
  const inNamespace = (command: string[]): string[] => (nsPid !== undefined ? ['nsenter', '-t', String(nsPid), '-m', '--', ...command] : command);
  const command = inNamespace([process.execPath, CERTMINT_MAIN, 'serve', '--config', configFile]);
  const child = spawn(command[0]!, command.slice(1), {
    cwd: tempDir,
    env: childEnvironment(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A worker that dies without afterAll must not leave a server behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  // Keep both pipes drained for the whole life of the child: a full pipe would block its logger.
  let output = '';
  let stderr = '';
  // Every line the server wrote, scanned for secrets when it stops (and with the whole run's logs at its end).
  const written: string[] = [];
  const runLog = suiteLog('certmint-serve');
  const keep = (chunk: Buffer, isStderr: boolean): void => {
    const text = chunk.toString('utf8');
    written.push(text);
    runLog.write(text);
    output = (output + text).slice(-OUTPUT_TAIL);
    if (isStderr) stderr = (stderr + text).slice(-OUTPUT_TAIL);
  };
  child.stderr.on('data', (chunk: Buffer) => keep(chunk, true));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      runLog.close();
      process.removeListener('exit', killOnExit);
      resolve();
    });
    child.once('error', (err) => {
      keep(Buffer.from(`${String(err)}\n`), true);
      exited = true;
      resolve();
    });
  });

  const stopChild = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    if (exited) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    await exit;
    clearTimeout(timer);
  };

  let directoryUrl: string;
  try {
    directoryUrl = await new Promise<string>((resolve, reject) => {
      let pending = '';
      const timer = setTimeout(
        () => reject(new Error(`certmint did not log "ACME directory at" within ${READY_TIMEOUT_MS} ms (a hang guard, not a start-up target: npm run bench times start and restart):\n${output}`)),
        READY_TIMEOUT_MS,
      );
      child.stdout.on('data', (chunk: Buffer) => {
        keep(chunk, false);
        pending += chunk.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const url = directoryUrlFromLogLine(line);
          if (url !== undefined) {
            clearTimeout(timer);
            resolve(url);
          }
        }
      });
      void exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`certmint exited (code ${child.exitCode ?? child.signalCode}) before it was ready:\n${stderr || output}`));
      });
    });
  } catch (err) {
    await stopChild();
    throw err;
  }

  const baseUrl = directoryUrl.replace(/\/directory$/, '');
  const dataDirView = () => namespace?.view(dataDir) ?? dataDir;
  const rootsFrom = options.behindProxy ? directUrl : baseUrl;
  let rootPem: string;
  try {
    const caRoot = await readFile(path.join(dataDirView(), 'ca', 'root.pem'), 'utf8');
    rootPem = await getText(`${rootsFrom}/roots.pem`, caRoot);
  } catch (err) {
    await stopChild();
    throw new Error(`GET ${rootsFrom}/roots.pem failed: ${(err as Error).message}\n${output}`);
  }
  const rootFile = path.join(tempDir, 'roots.pem');
  await writeFile(rootFile, rootPem);

  let stopped: Promise<void> | undefined;
  let handedOver = false;
  // With a dataDisk the admin CLI runs in the server's mount namespace (nsenter), where its data dir is.
  const cli = (args: readonly string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const [file, ...rest] = inNamespace([process.execPath, CERTMINT_MAIN, ...args, '--config', configFile]);
      const fakeClock = options.env?.CERTMINT_FAKE_CLOCK;
      const env = { ...process.env, ...(fakeClock ? { CERTMINT_FAKE_CLOCK: fakeClock } : {}) };
      execFile(file!, rest, { timeout: 30_000, env }, (err, stdout, stderr) => {
        logCliOutput(args, stdout, stderr);
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  return {
    baseUrl,
    directoryUrl,
    directUrl,
    rootPem,
    rootFile,
    dataDir,
    dataDirView: dataDirView(),
    mountNamespace: namespace,
    tempDir,
    http01Port,
    tlsAlpn01Port,
    dns,
    process: child,
    output: () => output,
    cli,
    showCertificate: async (serial) => {
      const r = await cli(['certs', 'show', serial, '--json']);
      if (r.code !== 0) throw new Error(`certmint certs show ${serial} failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    },
    restart: async (whileStopped, how) => {
      handedOver = true;
      await stopChild(how?.signal);
      await whileStopped?.();
      const next = how?.env ? { ...options, env: { ...options.env, ...how.env } } : options;
      return startOnce(next, tempDir, dns, server, namespace, files);
    },
    stop: () =>
      (stopped ??= (async () => {
        await stopChild();
        // No private key, EAB key or passphrase in any line the server wrote, whatever the test did.
        // (Read while the data dir's disk is still mounted.)
        const secrets = await secretsOfDataDir(dataDirView(), passphrasesOf(options));
        registerSecrets(secrets);
        const leaks = linesLeakingSecrets(written.join(''), secrets);
        if (leaks.length > 0 && !handedOver) {
          await dns.stop();
          await namespace?.close();
          await files?.close();
          await rm(tempDir, { recursive: true, force: true });
        }
        if (leaks.length > 0) throw new Error(`certmint logged secrets in ${leaks.length} line(s):\n${leaks.join('\n')}`);
        if (handedOver) return;
        await dns.stop();
        await namespace?.close();
        await files?.close();
        await rm(tempDir, { recursive: true, force: true });
      })()),
  };
}

/** The CA key passphrases the test gave the server, by environment variable or file, and its `secrets`. */
function passphrasesOf(options: CertmintOptions): string[] {
  const out: string[] = [...(options.secrets ?? [])];
  const fromEnv = options.env?.CERTMINT_CA_KEY_PASSPHRASE;
  if (fromEnv) out.push(fromEnv);
  const file = options.env?.CERTMINT_CA_KEY_PASSPHRASE_FILE ?? (options.config?.ca as { keyPassphraseFile?: string } | undefined)?.keyPassphraseFile;
  if (file && existsSync(file)) out.push(readFileSync(file, 'utf8').replace(/\r?\n$/, ''));
  return out;
}

/** The URL in `{"msg":"ACME directory at https://…/directory"}`, or undefined for any other line. */
function directoryUrlFromLogLine(line: string): string | undefined {
  if (!line.includes('ACME directory at')) return undefined;
  let msg: unknown;
  try {
    msg = (JSON.parse(line) as { msg?: unknown }).msg;
  } catch {
    msg = line;
  }
  const m = typeof msg === 'string' ? /ACME directory at (\S+)/.exec(msg) : null;
  return m?.[1];
}

/**
 * The parent's environment without its CERTMINT_* variables (a developer's CERTMINT_DATA_DIR must
 * not point the tests at a real CA), at log level info (the readiness line is an info line).
 */
function childEnvironment(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CERTMINT_')) env[key] = value;
  }
  return { ...env, CERTMINT_LOG_LEVEL: 'info', ...extra };
}

/** GET over HTTPS trusting only `ca` (or plain HTTP when certmint runs behind a proxy). */
function getText(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { ca, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('error', reject);
      res.once('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}: ${body}`))));
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
    req.end();
  });
}

// What a user checks on a certificate certmint issued. They live here because every e2e suite
// checks the same things against the same running certmint.
