import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { composeCliOrSkip, composeInCopy } from '../support/compose.js';

// The container files as a user runs them: the image's Dockerfile, docker-compose.yml and the
// example workload's image. No Docker engine here, so their structure is checked; the
// entrypoint itself runs in test/e2e/container-entrypoint.test.ts, the healthcheck in
// test/e2e/container-healthcheck.test.ts.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** The FROM stage it belongs to (0 = first). */
  readonly stage: number;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(file: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const line of read(file).split('\n')) {
    if (/^\s*#/.test(line)) continue;
    pending += line.replace(/\\\s*$/, ' ');
    if (/\\\s*$/.test(line)) continue;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(pending.trim());
    pending = '';
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ keyword, args: m[2]!.replace(/\s+/g, ' ').trim(), stage });
  }
  return out;
}

/** COPY sources taken from the build context (not --from=another stage), with their targets. */
function contextCopies(instructions: readonly Instruction[]): { sources: string[]; target: string }[] {
  return instructions
    .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
    .map((i) => {
      const words = i.args.split(' ').filter((w) => !w.startsWith('--'));
      return { sources: words.slice(0, -1), target: words.at(-1)! };
    });
}

/** .dockerignore patterns (plain paths and globs as written). */
function dockerignore(dir: string): string[] {
  return read(path.join(dir, '.dockerignore'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

type Service = {
  build?: string | { context: string; dockerfile?: string };
  image?: string;
  environment?: Record<string, string>;
  secrets?: (string | { source: string; target?: string })[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[]; interval?: string; retries?: number };
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, { aliases?: string[] }>;
  /** Services under a profile (`scale`) run only when it is named: test/examples/scale-compose.test.ts. */
  profiles?: string[];
};
interface Compose {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
  volumes: Record<string, unknown>;
}

describe('Dockerfile (the certmint image)', () => {
  const instructions = dockerfile('Dockerfile');
  const finalStage = Math.max(...instructions.map((i) => i.stage));
  const final = instructions.filter((i) => i.stage === finalStage);

  it('builds in one stage (native better-sqlite3, TypeScript, dev dependencies pruned) and runs on node:22-bookworm-slim', () => {
    const froms = instructions.filter((i) => i.keyword === 'FROM').map((i) => i.args);
    expect(froms).toHaveLength(2);
    expect(froms[0]).toMatch(/^node:22-bookworm-slim AS build$/);
    expect(froms[1]).toBe('node:22-bookworm-slim');
    const buildRuns = instructions.filter((i) => i.stage === 0 && i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(buildRuns).toContain('npm ci');
    expect(buildRuns).toContain('better-sqlite3 --build-from-source');
    expect(buildRuns).toContain('npm run build');
    expect(buildRuns).toContain('npm prune --omit=dev');
    // What `npm run build` reads: the TypeScript, the console's assets, and every script the build runs.
    const built = contextCopies(instructions.filter((i) => i.stage === 0)).flatMap((c) => c.sources);
    const buildScripts = [...(JSON.parse(read('package.json')) as { scripts: { build: string } }).scripts.build.matchAll(/node (scripts\/[\w-]+\.mjs)/g)].map((m) => m[1]!);
    expect(buildScripts).toEqual(['scripts/build-console.mjs', 'scripts/build-server.mjs']);
    // build-server.mjs's warm-up starts (the code cache) run scripts/write-code-cache.mjs and apply the migrations.
    for (const input of ['src', 'tsconfig.build.json', 'console', 'migrations', 'scripts/write-code-cache.mjs', ...buildScripts]) expect(built, input).toContain(input);
    expect(final.filter((i) => i.keyword === 'COPY' && i.args.startsWith('--from=build')).map((i) => i.args)).toEqual([
      '--from=build /app/node_modules ./node_modules',
      '--from=build /app/dist ./dist',
    ]);
  });

  it('runs as the non-root node user, with /data a volume owned by it', () => {
    const users = final.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(users).toEqual(['node']);
    expect(final.some((i) => i.keyword === 'VOLUME' && i.args === '/data')).toBe(true);
    expect(final.some((i) => i.keyword === 'RUN' && i.args.includes('chown node:node /data'))).toBe(true);
    const env = final.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    expect(env).toContain('CERTMINT_DATA_DIR=/data');
    expect(env).toContain('CERTMINT_CONFIG=/etc/certmint/config.yaml');
  });

  it('starts under tini and probes /health with the healthcheck script it ships', () => {
    const entrypoint = JSON.parse(final.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint.slice(0, 3)).toEqual(['/usr/bin/tini', '--', 'node']);
    expect(final.some((i) => i.keyword === 'RUN' && /apt-get install .*\btini\b/.test(i.args))).toBe(true);
    const healthcheck = final.find((i) => i.keyword === 'HEALTHCHECK')!;
    const cmd = JSON.parse(healthcheck.args.slice(healthcheck.args.indexOf('CMD ') + 4)) as string[];
    expect(cmd).toEqual(['node', '/app/scripts/container-healthcheck.mjs', '/health']);
    expect(contextCopies(final)).toContainEqual({ sources: ['scripts/container-healthcheck.mjs'], target: './scripts/container-healthcheck.mjs' });
    expect(final.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const ignored = dockerignore('.');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'data', '.git', 'secrets', 'coverage']));
    for (const { sources } of contextCopies(instructions)) {
      for (const source of sources) {
        expect(existsSync(path.join(ROOT, source)), source).toBe(true);
        expect(ignored.some((p) => source === p || source.startsWith(`${p}/`)), `${source} is in .dockerignore`).toBe(false);
      }
    }
  });

  it('keeps engines at node >= 20 (the image runs 22)', () => {
    expect((JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node).toBe('>=20');
  });
});

describe('examples/container-entrypoint/Dockerfile (the example workload)', () => {
  const dir = 'examples/container-entrypoint';
  const instructions = dockerfile(path.join(dir, 'Dockerfile'));

  it('installs lego, nginx, curl and openssl on Debian bookworm and runs entrypoint.sh under tini', () => {
    expect(instructions[0]).toMatchObject({ keyword: 'FROM', args: 'debian:bookworm-slim' });
    const install = instructions.find((i) => i.keyword === 'RUN' && i.args.includes('apt-get install'))!.args;
    for (const pkg of ['lego', 'nginx', 'curl', 'openssl', 'ca-certificates', 'tini']) expect(install).toMatch(new RegExp(`\\b${pkg}\\b`));
    const copies = contextCopies(instructions);
    for (const { sources } of copies) for (const source of sources) expect(existsSync(path.join(ROOT, dir, source)), source).toBe(true);
    const entrypointTarget = copies.find((c) => c.sources.includes('entrypoint.sh'))!.target;
    expect(JSON.parse(instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args)).toEqual(['/usr/bin/tini', '--', entrypointTarget]);
    expect(JSON.parse(instructions.find((i) => i.keyword === 'CMD')!.args)).toEqual(['nginx', '-g', 'daemon off;']);
  });

  it('serves the files the entrypoint installs, on 443 only (port 80 stays free for lego)', () => {
    const nginx = read(path.join(dir, 'nginx.conf'));
    const entrypoint = read(path.join(dir, 'entrypoint.sh'));
    expect(entrypoint).toContain('CERT_DIR=${CERT_DIR:-/certs}');
    expect(nginx).toContain('ssl_certificate     /certs/tls.crt;');
    expect(nginx).toContain('ssl_certificate_key /certs/tls.key;');
    expect(nginx).not.toMatch(/listen\s+(\[::\]:)?80\b/);
    expect(statSync(path.join(ROOT, dir, 'entrypoint.sh')).mode & 0o111).not.toBe(0);
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as Compose;
  const certmint = compose.services.certmint!;
  const web = compose.services.web!;

  it('has certmint, built from the Dockerfile, and the example workload built from examples/container-entrypoint', () => {
    expect(Object.keys(compose.services).filter((name) => !compose.services[name]!.profiles).sort()).toEqual(['certmint', 'web']);
    expect(certmint.build).toBe('.');
    expect(existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
    expect(web.build).toBe('./examples/container-entrypoint');
    expect(existsSync(path.join(ROOT, 'examples/container-entrypoint/Dockerfile'))).toBe(true);
  });

  it('hands certmint the CA key passphrase as a Docker secret file', () => {
    expect(compose.secrets['ca-passphrase']).toEqual({ file: './secrets/ca-passphrase.txt' });
    expect(certmint.secrets).toEqual(['ca-passphrase']);
    expect(certmint.environment?.CERTMINT_CA_KEY_PASSPHRASE_FILE).toBe('/run/secrets/ca-passphrase');
    expect(certmint.environment).not.toHaveProperty('CERTMINT_CA_KEY_PASSPHRASE');
    // The file is the operator's to create; the directory says how and keeps it out of git.
    const instructions = read('secrets/README.md');
    expect(instructions).toContain('secrets/ca-passphrase.txt');
    expect(read('secrets/.gitignore').split('\n')).toEqual(expect.arrayContaining(['*', '!README.md', '!.gitignore']));
  });

  it('keeps certmint data in a named volume and checks /ready with the shipped script', () => {
    expect(certmint.volumes).toContain('certmint-data:/data');
    expect(compose.volumes).toHaveProperty('certmint-data');
    expect(certmint.healthcheck?.test).toEqual(['CMD', 'node', '/app/scripts/container-healthcheck.mjs', '/ready']);
    expect(existsSync(path.join(ROOT, 'scripts/container-healthcheck.mjs'))).toBe(true);
  });

  it('points the workload at certmint by service name, once certmint is healthy', () => {
    expect(web.depends_on).toEqual({ certmint: { condition: 'service_healthy' } });
    const url = new URL(web.environment!.CERTMINT_URL!);
    expect(url.hostname).toBe('certmint');
    // The URL the workload uses is the URL certmint signs requests against, and its HTTPS names include it.
    expect(certmint.environment?.CERTMINT_SERVER_BASE_URL).toBe(url.origin);
    expect(certmint.environment?.CERTMINT_SERVER_TLS_HOSTNAMES?.split(',')).toContain('certmint');
    expect(certmint.ports).toContain(`${url.port}:${url.port}`);
    // certmint validates http-01 by resolving the workload's names through Docker's DNS.
    const domains = web.environment!.DOMAINS!.split(/[ ,]+/);
    expect(web.networks?.default?.aliases).toEqual(expect.arrayContaining(domains));
    expect(web.environment?.CHALLENGE).toBe('http-01');
    expect(web.volumes).toContain('web-state:/var/lib/certmint-client');
    expect(compose.volumes).toHaveProperty('web-state');
    expect(web.healthcheck?.test).toContain('/certs/ca.crt');
  });

  it('sets only variables the entrypoint reads', () => {
    const entrypoint = read('examples/container-entrypoint/entrypoint.sh');
    for (const name of Object.keys(web.environment ?? {})) expect(entrypoint, name).toContain(`${name}=\${${name}:-`);
  });

  // .ci/run installs Debian's docker-compose; CERTMINT_REQUIRE_CLIENTS=1 makes its absence fail.
  const composeCli = composeCliOrSkip();
  it.skipIf(!composeCli)('is valid for `docker compose config`, with the secret files an operator creates', () => {
    const r = composeInCopy(composeCli!, ['config', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
