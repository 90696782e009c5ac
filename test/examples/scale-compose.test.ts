import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCa } from '../../src/ca/ca-files.js';
import { configuredKeyPassphrase } from '../../src/ca/key-passphrase.js';
import { SecretBox } from '../../src/ca/secret-box.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { certmintReads } from '../support/certmint-env.js';
import { findOnPath, requireOrSkip, requireOrSkipFound } from '../support/clients.js';
import { CERTMINT_CLI, requireBuiltCli } from '../support/cli.js';
import { composeCliOrSkip, composeInCopy } from '../support/compose.js';

// docker-compose.yml's profile "scale": two certmint instances on PostgreSQL behind HAProxy,
// sharing one CA. No Docker engine here, so the file is parsed (with YAML merge keys, as compose
// reads it), the real haproxy checks deploy/haproxy/haproxy.cfg, the compose CLI (when installed)
// reads the file, and the one-shot init script runs for real against a temporary directory.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
const HAPROXY_CFG = 'deploy/haproxy/haproxy.cfg';
const INIT_SCRIPT = 'deploy/compose/certmint-init.sh';
const SCALE = ['certmint-1', 'certmint-2', 'certmint-init', 'haproxy', 'postgres'];
const INSTANCES = ['certmint-1', 'certmint-2'];

interface Service {
  build?: string;
  image?: string;
  profiles?: string[];
  user?: string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, { aliases?: string[] }>;
}
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose;
const service = (name: string): Service => compose.services[name]!;
const configOf = (name: string): Config => loadConfig({ env: service(name).environment!, cwd: '/' });
/** "source:target[:ro]" → its parts. */
const mount = (spec: string) => {
  const [source, target, mode] = spec.split(':') as [string, string, string | undefined];
  return { source, target, readOnly: mode === 'ro' };
};
const haproxyCfg = read(HAPROXY_CFG);

describe('docker-compose.yml, profile "scale"', () => {
  it('adds its services under the profile only: `docker compose up` alone still starts certmint and web as before', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['certmint', 'web', ...SCALE].sort());
    for (const name of SCALE) expect(service(name).profiles, name).toEqual(['scale']);
    const unprofiled = Object.keys(compose.services).filter((n) => service(n).profiles === undefined);
    expect(unprofiled.sort()).toEqual(['certmint', 'web']);
    // The default services use nothing of the profile's.
    expect(service('certmint').volumes).toEqual(['certmint-data:/data']);
    expect(service('certmint').secrets).toEqual(['ca-passphrase']);
    expect(Object.keys(service('certmint').environment!).filter((k) => k.startsWith('CERTMINT_LEDGER'))).toEqual([]);
    expect(service('web').depends_on).toEqual({ certmint: { condition: 'service_healthy' } });
    for (const name of ['certmint', 'web']) expect(JSON.stringify(service(name))).not.toMatch(/certmint-lb|postgres|certmint-ca|haproxy/);
  });

  it('certmint-image services set only variables certmint reads, into configurations it accepts', () => {
    for (const name of ['certmint', 'certmint-init', ...INSTANCES]) {
      expect(service(name).image, name).toBe('certmint:dev');
      for (const v of Object.keys(service(name).environment ?? {})) expect(certmintReads(v), `${name}: ${v} is not a certmint setting`).toBe(true);
      configOf(name);
    }
    expect(certmintReads('CERTMINT_LEDGER_PASSWORDFILE')).toBe(false); // the check can fail
  });

  it('both instances: one baseUrl naming the balancer (alias and port), on their HTTPS certificates too', () => {
    const [one, two] = INSTANCES.map(configOf) as [Config, Config];
    expect(one.server.baseUrl).toBe(two.server.baseUrl);
    expect(one.server.tls.hostnames).toEqual(two.server.tls.hostnames);
    const base = new URL(one.server.baseUrl);
    expect(service('haproxy').networks?.default?.aliases).toContain(base.hostname);
    expect(one.server.tls.hostnames).toContain(base.hostname);
    expect(haproxyCfg).toMatch(new RegExp(`^\\s*bind :${base.port}\\s*$`, 'm'));
    expect(service('haproxy').ports).toContain(`${base.port}:${base.port}`);
    // Not the default certmint's URL or host port: both stacks may run side by side.
    expect(service('certmint').ports).not.toContain(`${base.port}:${base.port}`);
  });

  it('both instances and the init use the PostgreSQL service, with its password from the Docker secret postgres uses', () => {
    const pgEnv = service('postgres').environment!;
    const secret = path.posix.basename(pgEnv.POSTGRES_PASSWORD_FILE!);
    expect(pgEnv.POSTGRES_PASSWORD_FILE).toBe(`/run/secrets/${secret}`);
    expect(service('postgres').secrets).toContain(secret);
    expect(compose.secrets[secret]!.file).toMatch(/^\.\/secrets\/[^/]+$/); // ignored by secrets/.gitignore
    expect(read('secrets/.gitignore').split('\n')).toContain('*');
    for (const name of ['certmint-init', ...INSTANCES]) {
      const { ledger } = configOf(name);
      const url = new URL(ledger.url!);
      expect([url.hostname, url.port, url.username, url.password, url.pathname], name).toEqual(['postgres', '5432', pgEnv.POSTGRES_USER, '', `/${pgEnv.POSTGRES_DB}`]);
      expect(ledger.passwordFile, name).toBe(pgEnv.POSTGRES_PASSWORD_FILE);
      expect(service(name).secrets, name).toEqual(['ca-passphrase', secret]);
      expect(configOf(name).ca.keyPassphraseFile, name).toBe('/run/secrets/ca-passphrase');
    }
    expect(service('postgres').image).toMatch(/^postgres:\d+/);
    const pgReady = service('postgres').healthcheck!.test;
    expect(pgReady.slice(0, 2)).toEqual(['CMD', 'pg_isready']);
    expect(pgReady.join(' ')).toContain(`-U ${pgEnv.POSTGRES_USER} -d ${pgEnv.POSTGRES_DB}`);
  });

  it('the instances mount one CA volume read-only at <dataDir>/ca, keep their own data, and wait for the init and the database', () => {
    const ca = new Set<string>();
    const data = new Set<string>();
    for (const name of INSTANCES) {
      const { dataDir } = configOf(name);
      const mounts = service(name).volumes!.map(mount);
      const caMount = mounts.find((m) => m.target === `${dataDir}/ca`)!;
      expect(caMount.readOnly, `${name}: no instance may write a CA`).toBe(true);
      ca.add(caMount.source);
      const dataMount = mounts.find((m) => m.target === dataDir)!;
      expect(dataMount.readOnly).toBe(false);
      data.add(dataMount.source);
      expect(service(name).depends_on).toEqual({
        'certmint-init': { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
      });
      expect(service(name).healthcheck?.test).toEqual(['CMD', 'node', '/app/scripts/container-healthcheck.mjs', '/ready']);
    }
    expect(ca.size).toBe(1);
    expect(data.size).toBe(INSTANCES.length);
    expect(data.has('certmint-data')).toBe(false);
    for (const v of [...ca, ...data]) expect(compose.volumes).toHaveProperty(v);
    // certmint-init writes that same volume, with the script from this repository.
    const init = service('certmint-init');
    const initMounts = init.volumes!.map(mount);
    expect(initMounts).toContainEqual({ source: [...ca][0], target: `${configOf('certmint-init').dataDir}/ca`, readOnly: false });
    const script = initMounts.find((m) => m.source === `./${INIT_SCRIPT}`)!;
    expect(script.readOnly).toBe(true);
    expect(init.entrypoint).toEqual(['/bin/sh', script.target]);
    expect(init.user).toBe('0:0'); // the script drops to uid 1000 itself
    expect(init.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
  });

  it('haproxy: the official image with the config mounted, both instances round-robin, /ready checked over TLS, TLS passed through', () => {
    const h = service('haproxy');
    expect(h.image).toMatch(/^haproxy:\d/);
    expect(h.volumes).toContain(`./${HAPROXY_CFG}:/usr/local/etc/haproxy/haproxy.cfg:ro`);
    expect(h.depends_on).toEqual(Object.fromEntries(INSTANCES.map((n) => [n, { condition: 'service_started' }])));
    const lines = haproxyCfg.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');
    const servers = lines.filter((l) => l.startsWith('server '));
    // Each instance twice: checked, and as an unchecked backup that takes connections only while
    // no instance passes /ready (fail open: clients then get certmint's own 503 and nonces).
    expect(servers).toEqual([
      ...INSTANCES.map((n) => `server ${n} ${n}:${configOf(n).server.port}`),
      ...INSTANCES.map((n) => `server ${n}-open ${n}:${configOf(n).server.port} backup no-check`),
    ]);
    expect(lines).toContain('option allbackups');
    expect(lines).toContain('mode tcp');
    expect(lines).toContain('balance roundrobin');
    expect(lines).toContain('option httpchk');
    expect(lines.find((l) => l.startsWith('http-check send'))).toMatch(/ uri \/ready /);
    const defaults = lines.find((l) => l.startsWith('default-server '))!.split(/\s+/);
    expect(defaults).toEqual(expect.arrayContaining(['check', 'check-ssl', 'resolvers', 'init-addr']));
    // check-ssl encrypts the checks only; "ssl" would make HAProxy re-encrypt the traffic.
    expect([...defaults, ...servers.flatMap((s) => s.split(/\s+/))]).not.toContain('ssl');
  });

  const haproxyFound = requireOrSkipFound(findOnPath('haproxy') !== undefined, 'haproxy is not installed', 'haproxy', 'apt-get install haproxy');
  it.skipIf(!haproxyFound)('haproxy -c accepts the config outside compose, and refuses broken copies of it', () => {
    const check = (text: string) => {
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'certmint-haproxy-')), 'haproxy.cfg');
      writeFileSync(file, text);
      return spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', timeout: 20_000 });
    };
    const ok = check(haproxyCfg);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Configuration file is valid');
    expect(ok.stderr).not.toMatch(/ALERT|WARNING/);
    // haproxy -c resolves server names: without the run-time resolvers the compose names fail.
    const resolved = check(haproxyCfg.replace(/ resolvers docker init-addr none/, ''));
    expect(resolved.status).not.toBe(0);
    expect(resolved.stderr).toContain("could not resolve address 'certmint-1'");
    const typo = check(haproxyCfg.replace('balance roundrobin', 'balance round-robin'));
    expect(typo.status).not.toBe(0);
    expect(typo.stderr).toMatch(/ALERT.*balance/);
  });

  const composeCli = composeCliOrSkip();
  it.skipIf(!composeCli)('`docker compose --profile scale config` reads the services as this test does', () => {
    const r = composeInCopy(composeCli!, ['--profile', 'scale', 'config']);
    expect(r.status, r.stderr).toBe(0);
    const seen = parse(r.stdout) as { services: Record<string, { environment: Record<string, string>; volumes: (string | { source: string; target: string; read_only?: boolean })[] }> };
    expect(Object.keys(seen.services).sort()).toEqual(['certmint', 'web', ...SCALE].sort());
    for (const name of INSTANCES) {
      expect(seen.services[name]!.environment, name).toEqual(service(name).environment);
      const mounts = seen.services[name]!.volumes.map((v) => (typeof v === 'string' ? mount(v) : { source: v.source, target: v.target, readOnly: v.read_only === true }));
      expect(mounts, name).toContainEqual({ source: 'certmint-ca', target: '/data/ca', readOnly: true });
    }
  });
});

describe(`${INIT_SCRIPT} (certmint-init)`, () => {
  const script = path.join(ROOT, INIT_SCRIPT);
  const tree = (dir: string) =>
    Object.fromEntries(readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')]));

  // Run as root (as in compose), the script hands the CA directory to another user and drops to
  // it: here `nobody`, since the image's `node` may not exist. Otherwise it runs as this user.
  const asRoot = process.getuid?.() === 0;
  const runAs = asRoot ? 'nobody' : userInfo().username;
  const runAsUid = Number(spawnSync('id', ['-u', runAs], { encoding: 'utf8' }).stdout.trim());
  /** A temporary directory the user the script drops to may enter. */
  const tempDir = (prefix: string): string => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    chmodSync(dir, 0o755);
    return dir;
  };

  /**
   * The script as the service runs it, with `certmint` the built CLI and the data dir a temporary
   * one that belongs to the user certmint runs as (the image's /data belongs to node).
   */
  function runInit(dataDir: string, passphraseFile: string | undefined) {
    requireBuiltCli();
    if (!existsSync(dataDir)) {
      mkdirSync(dataDir, { mode: 0o755 });
      if (asRoot) chownSync(dataDir, runAsUid, -1);
    }
    const bin = tempDir('certmint-init-bin-');
    writeFileSync(path.join(bin, 'certmint'), `#!/bin/sh\nexec "${process.execPath}" "${CERTMINT_CLI}" "$@"\n`);
    chmodSync(path.join(bin, 'certmint'), 0o755);
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CERTMINT_')));
    Object.assign(env, { PATH: `${bin}:${process.env.PATH}`, CERTMINT_DATA_DIR: dataDir, CERTMINT_INIT_USER: runAs });
    if (passphraseFile) env.CERTMINT_CA_KEY_PASSPHRASE_FILE = passphraseFile;
    return spawnSync('/bin/sh', [script], { env, encoding: 'utf8', timeout: 60_000 });
  }
  /** The passphrase file, private to the user certmint runs as (as secrets/README.md has it). */
  function passphrase(dir: string): string {
    const file = path.join(dir, 'ca-passphrase');
    writeFileSync(file, 'a passphrase for the test CA\n', { mode: 0o600 });
    if (asRoot) chownSync(file, runAsUid, -1);
    return file;
  }

  it('creates one encrypted CA and secrets.key that certmint loads, then leaves them alone', async () => {
    const tmp = tempDir('certmint-init-');
    const dataDir = path.join(tmp, 'data');
    const pass = passphrase(tmp);
    const first = runInit(dataDir, pass);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('created a CA in');
    const dir = path.join(dataDir, 'ca');
    expect(readdirSync(dir).sort()).toEqual(['intermediate.key.pem', 'intermediate.pem', 'root.key.pem', 'root.pem', 'secrets.key']);
    expect(readFileSync(path.join(dir, 'root.key.pem'), 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(statSync(path.join(dir, 'secrets.key')).mode & 0o077).toBe(0);
    // Everything belongs to the user certmint runs as, who alone may enter the directory.
    for (const f of ['.', ...readdirSync(dir)]) expect(statSync(path.join(dir, f)).uid, f).toBe(runAsUid);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const keyPassphrase = configuredKeyPassphrase(pass, {})!;
    await loadCa({ dir, name: 'certmint', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/intermediate.der', keyPassphrase });
    const box = await SecretBox.open(dir);
    expect(box.open(box.seal(Buffer.from('hmac'), 'kid'), 'kid').toString()).toBe('hmac');

    const before = tree(dir);
    const again = runInit(dataDir, pass);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('a CA exists');
    expect(tree(dir)).toEqual(before);
  });

  it('never makes a CA over part of one, and never writes plain keys: without a passphrase it fails and writes nothing', () => {
    const tmp = tempDir('certmint-init-');
    const partial = path.join(tmp, 'partial');
    const pass = passphrase(tmp);
    expect(runInit(partial, pass).status).toBe(0);
    const dir = path.join(partial, 'ca');
    for (const f of ['root.pem', 'root.key.pem', 'intermediate.key.pem']) rmSync(path.join(dir, f));
    const before = tree(dir);
    const rerun = runInit(partial, pass);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(tree(dir)).toEqual(before); // certmint serve reports the incomplete CA; the script adds nothing

    const bare = path.join(tmp, 'bare');
    const r = runInit(bare, undefined);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--encrypt needs a passphrase');
    // Run as root the script creates the (empty) directory before it drops to the user.
    expect(existsSync(path.join(bare, 'ca')) ? readdirSync(path.join(bare, 'ca')) : []).toEqual([]);
  });

  it('passes sh -n', () => {
    expect(spawnSync('sh', ['-n', script]).status).toBe(0);
  });

  const shellcheckFound = requireOrSkip('shellcheck', 'apt-get install shellcheck');
  it.skipIf(!shellcheckFound)('passes shellcheck', () => {
    const r = spawnSync('shellcheck', [script], { encoding: 'utf8' });
    expect(r.status, r.stdout).toBe(0);
  });
});
