import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadCa } from '../../src/ca/ca-files.js';
import { configuredKeyPassphrase } from '../../src/ca/key-passphrase.js';
import { SecretBox } from '../../src/ca/secret-box.js';
import { loadConfig } from '../../src/config/config.js';
import { certmintReads } from '../support/certmint-env.js';
import { findOnPath, requireOrSkipFound } from '../support/clients.js';
import { requireBuiltCli } from '../support/cli.js';

// examples/kubernetes: no cluster here, so the manifests are parsed (as YAML 1.1, like kubectl:
// `defaultMode: 0440` is octal) and held to what Kubernetes, cert-manager and certmint require of
// each other. The README's commands that need no cluster run for real: the CA creation, and the
// sed that fills in the ClusterIssuer's caBundle.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIR = path.join(ROOT, 'examples/kubernetes');
const readme = readFileSync(path.join(DIR, 'README.md'), 'utf8');

type Obj = Record<string, unknown>;
interface Mount { name: string; mountPath: string; readOnly?: boolean }
interface Probe { httpGet: { scheme: string; path: string; port: string | number } }
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: Mount[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
}
interface Volume {
  name: string;
  secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
  emptyDir?: { medium?: string; sizeLimit?: string };
}
interface PodSpec {
  enableServiceLinks?: boolean;
  securityContext: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number; seccompProfile?: { type: string } };
  initContainers: Container[];
  containers: Container[];
  volumes: Volume[];
}
interface Manifest { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec: Obj; [k: string]: unknown }

function manifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'), { version: '1.1' }).map((doc) => {
    expect(doc.errors, `${file}: ${doc.errors.join('; ')}`).toEqual([]);
    return doc.toJS() as Manifest;
  });
}
const only = (file: string): Manifest => {
  const docs = manifests(file);
  expect(docs, file).toHaveLength(1);
  return docs[0]!;
};

/** This environment without certmint's settings: the README's commands set their own. */
const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CERTMINT_')));

/** A fenced ```sh block of the README: the first that contains `needle`. */
function shellBlock(needle: string): string {
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes(needle));
  expect(block, `a sh block of README.md with ${needle}`).toBeDefined();
  return block!;
}

const deployment = only('deployment.yaml');
const service = only('service.yaml');
const issuer = only('cluster-issuer.yaml');
const pdb = only('pod-disruption-budget.yaml');
const namespace = only('namespace.yaml');
const pod = (deployment.spec.template as { spec: PodSpec; metadata: { labels: Record<string, string> } });
const certmint = pod.spec.containers.find((c) => c.name === 'certmint')!;
const init = pod.spec.initContainers[0]!;
const env = Object.fromEntries((certmint.env ?? []).map((e) => [e.name, e.value!]));
const config = loadConfig({ env, cwd: '/' });
const volume = (name: string): Volume => {
  const v = pod.spec.volumes.find((x) => x.name === name);
  expect(v, `volume ${name}`).toBeDefined();
  return v!;
};
const mountAt = (c: Container, mountPath: string): Mount | undefined => c.volumeMounts?.find((m) => m.mountPath === mountPath);
/** The volume mounted in `c` that holds `file`, and the file's path inside it. */
function volumeHolding(c: Container, file: string): { mount: Mount; rel: string } {
  const mount = [...(c.volumeMounts ?? [])]
    .sort((a, b) => b.mountPath.length - a.mountPath.length)
    .find((m) => file === m.mountPath || file.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  expect(mount, `${c.name}: no volume holds ${file}`).toBeDefined();
  return { mount: mount!, rel: path.posix.relative(mount!.mountPath, file) };
}

/** The README's $S (step 1), once its commands ran. */
let S: string | undefined;

/** Secret name → its keys, from the README's `kubectl create secret generic` lines (after step 1 ran: a directory's keys are its files). */
function secretKeys(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of readme.matchAll(/kubectl -n certmint create secret generic (\S+)((?: --from-file=\S+)+)/g)) {
    const keys = new Set<string>();
    for (const [, spec] of m[2]!.matchAll(/--from-file=(\S+)/g)) {
      const [key, file] = spec!.includes('=') ? spec!.split('=') as [string, string] : [undefined, spec!];
      if (key !== undefined) {
        keys.add(key);
      } else if (S !== undefined) {
        const dir = file.replace(/^"|"$/g, '').replace('$S', S);
        for (const f of readdirSync(dir)) if (statSync(path.join(dir, f)).isFile()) keys.add(f);
      }
    }
    out.set(m[1]!, keys);
  }
  return out;
}

describe('examples/kubernetes: manifests', () => {
  it('holds the files the README lists, each a known kind and apiVersion', () => {
    const kinds: Record<string, string> = {
      'namespace.yaml': 'v1 Namespace',
      'deployment.yaml': 'apps/v1 Deployment',
      'service.yaml': 'v1 Service',
      'pod-disruption-budget.yaml': 'policy/v1 PodDisruptionBudget',
      'cluster-issuer.yaml': 'cert-manager.io/v1 ClusterIssuer',
      'kustomization.yaml': 'kustomize.config.k8s.io/v1beta1 Kustomization',
    };
    expect(readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()).toEqual(Object.keys(kinds).sort());
    for (const [file, kind] of Object.entries(kinds)) {
      const m = only(file);
      expect(`${m.apiVersion} ${m.kind}`, file).toBe(kind);
      expect(readme, `README lists ${file}`).toContain(`\`${file}\``);
    }
  });

  it('kustomization applies everything but the ClusterIssuer, all in the certmint namespace', () => {
    const k = parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'), { version: '1.1' }) as { resources: string[]; images: { name: string }[] };
    expect(k.resources.sort()).toEqual(['deployment.yaml', 'namespace.yaml', 'pod-disruption-budget.yaml', 'service.yaml']);
    expect(namespace.metadata.name).toBe('certmint');
    for (const m of [deployment, service, pdb]) expect(m.metadata.namespace, m.kind).toBe(namespace.metadata.name);
    expect(issuer.metadata.namespace).toBeUndefined(); // cluster-scoped
    // The image override names the image both containers run.
    for (const c of [certmint, init]) expect(c.image.split(':')[0]).toBe(k.images[0]!.name);
  });

  it('Deployment: 2 replicas whose pod labels its selector, the Service and the PodDisruptionBudget select', () => {
    expect(deployment.spec.replicas).toBe(2);
    const labels = pod.metadata.labels;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    const matchLabels = (deployment.spec.selector as { matchLabels: Record<string, string> }).matchLabels;
    expect(selects(matchLabels)).toBe(true);
    expect(selects(service.spec.selector as Record<string, string>)).toBe(true);
    expect((pdb.spec.selector as { matchLabels: Record<string, string> }).matchLabels).toEqual(matchLabels);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas as number);
  });

  it('sets only variables certmint reads, into a configuration certmint accepts', () => {
    for (const name of Object.keys(env)) expect(certmintReads(name), `${name} is not a certmint setting`).toBe(true);
    expect(certmintReads('CERTMINT_LEDGER_PASSWORDFILE')).toBe(false); // the check can fail
    for (const e of certmint.env!) expect(e.value, `${e.name}: a literal value`).toBeTypeOf('string');
    expect(new URL(config.ledger.url!).password).toBe('');
    expect(config.ledger.passwordFile).toBe(env.CERTMINT_LEDGER_PASSWORD_FILE);
    expect(config.ca.keyPassphraseFile).toBe(env.CERTMINT_CA_KEY_PASSPHRASE_FILE);
    // A Service named certmint would otherwise put CERTMINT_SERVICE_HOST & co. in that environment.
    expect(pod.spec.enableServiceLinks).toBe(false);
  });

  it('every volume mount names a declared volume, and every declared volume is mounted', () => {
    const declared = pod.spec.volumes.map((v) => v.name);
    expect(new Set(declared).size).toBe(declared.length);
    const mounted = new Set<string>();
    for (const c of [...pod.spec.initContainers, ...pod.spec.containers]) {
      for (const m of c.volumeMounts ?? []) {
        expect(declared, `${c.name} mounts ${m.name}`).toContain(m.name);
        mounted.add(m.name);
      }
    }
    expect([...mounted].sort()).toEqual([...declared].sort());
  });

  it('certmint writes only to its data volume; the CA and the secret files it reads are read-only copies in memory', () => {
    const data = mountAt(certmint, config.dataDir)!;
    expect(data.readOnly ?? false).toBe(false);
    expect(volume(data.name).emptyDir).toBeDefined();
    const ca = mountAt(certmint, `${config.dataDir}/ca`)!;
    expect(ca.readOnly).toBe(true); // no pod can create a CA of its own
    for (const file of [config.ca.keyPassphraseFile!, config.ledger.passwordFile!]) {
      const { mount } = volumeHolding(certmint, file);
      expect(mount.readOnly, file).toBe(true);
      expect(volume(mount.name).emptyDir?.medium, file).toBe('Memory');
    }
    expect(volume(ca.name).emptyDir?.medium).toBe('Memory');
  });

  it('the init container copies each Secret file to where certmint reads it, from a key the README creates', () => {
    const script = init.args!.join('\n');
    const copies = [...script.matchAll(/^\s*install -m (0[0-7]{3}) (\S+) (\S+)\s*$/gm)].map((m) => ({ mode: m[1]!, from: m[2]!, to: m[3]! }));
    expect(copies.length).toBeGreaterThan(0);
    expect(script.split('\n').filter((l) => l.trim() !== '').length).toBe(copies.length);
    const targets = new Map<string, string>();
    for (const { mode, from, to } of copies) {
      // certmint refuses secret files that group or others may read.
      expect(Number.parseInt(mode, 8) & 0o077, `${to}: mode ${mode}`).toBe(0);
      const source = volumeHolding(init, from.replace(/\/\*$/, ''));
      const secret = volume(source.mount.name).secret;
      expect(secret, `${from} is not in a Secret volume`).toBeDefined();
      const keys = secretKeys().get(secret!.secretName);
      expect(keys, `Secret ${secret!.secretName} is created in README.md`).toBeDefined();
      if (from.endsWith('/*')) {
        expect(secret!.items, `${from}: every key of the Secret`).toBeUndefined();
      } else {
        const item = secret!.items?.find((i) => i.path === source.rel);
        expect(item, `${from}: an item of ${secret!.secretName}`).toBeDefined();
        expect([...keys!], `${secret!.secretName} has key ${item!.key}`).toContain(item!.key);
      }
      // The target is a volume certmint mounts too, at the same place.
      const target = volumeHolding(init, to.replace(/\/$/, ''));
      expect(mountAt(certmint, target.mount.mountPath)?.name, to).toBe(target.mount.name);
      targets.set(to.replace(/\/$/, ''), from);
    }
    expect(targets.get(`${config.dataDir}/ca`)).toMatch(/\/\*$/);
    expect(targets.has(config.ca.keyPassphraseFile!)).toBe(true);
    expect(targets.has(config.ledger.passwordFile!)).toBe(true);
    // Readable to the init container under fsGroup (kubelet makes Secret files group-readable).
    for (const v of pod.spec.volumes.filter((x) => x.secret)) expect(v.secret!.defaultMode, v.name).toBe(0o440);
    expect(pod.spec.securityContext.fsGroup).toBe(pod.spec.securityContext.runAsUser);
  });

  it('probes: /ready and /health over HTTPS on the container port', () => {
    const port = certmint.ports!.find((p) => p.containerPort === config.server.port)!;
    expect(port, `a container port ${config.server.port} (server.listen)`).toBeDefined();
    const check = (probe: Probe | undefined, want: string) => {
      expect(probe?.httpGet).toMatchObject({ scheme: 'HTTPS', path: want });
      expect([port.name, port.containerPort]).toContain(probe!.httpGet.port);
    };
    check(certmint.readinessProbe, '/ready');
    check(certmint.livenessProbe, '/health');
    check(certmint.startupProbe, '/health');
  });

  it('runs non-root with no privileges, resource requests and a memory limit (Pod Security "restricted")', () => {
    expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [init, certmint]) {
      expect(c.securityContext, c.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.resources?.requests?.cpu, c.name).toMatch(/\S/);
      expect(c.resources?.requests?.memory, c.name).toMatch(/\S/);
      expect(c.resources?.limits?.memory, c.name).toMatch(/\S/);
    }
    expect(init.image).toBe(certmint.image);
  });

  it('Service: targets the container port; the ClusterIssuer, certmint\'s baseUrl and its HTTPS names all use its DNS name', () => {
    const svcPort = (service.spec.ports as { name: string; port: number; targetPort: string | number }[])[0]!;
    const containerPort = certmint.ports!.find((p) => p.name === svcPort.targetPort || p.containerPort === svcPort.targetPort);
    expect(containerPort?.containerPort).toBe(config.server.port);
    const host = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
    const acme = (issuer.spec as { acme: { server: string } }).acme;
    expect(acme.server).toBe(`https://${host}:${svcPort.port}/directory`);
    expect(`${config.server.baseUrl}/directory`).toBe(acme.server);
    expect(config.server.tls.hostnames).toContain(host);
    expect(readme).toContain(acme.server);
  });
});

describe('examples/kubernetes: README commands', () => {
  let home: string;
  const bash = (script: string) => spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env: { ...cleanEnv(), HOME: home, S: S! }, encoding: 'utf8', timeout: 60_000 });
  const opensslFound = requireOrSkipFound(findOnPath('openssl') !== undefined, 'openssl is not installed', 'openssl', 'apt-get install openssl');

  beforeAll(() => {
    if (!opensslFound) return;
    requireBuiltCli();
    home = mkdtempSync(path.join(tmpdir(), 'certmint-k8s-readme-'));
    S = path.join(home, 'certmint-secrets');
    const r = bash(shellBlock('ca init'));
    expect(r.status, r.stderr).toBe(0);
  });

  it.skipIf(!opensslFound)('step 1 makes one encrypted CA and secrets.key that certmint loads, all private to their owner', async () => {
    const dir = path.join(S!, 'ca');
    expect(readdirSync(dir).sort()).toEqual(['intermediate.key.pem', 'intermediate.pem', 'root.key.pem', 'root.pem', 'secrets.key']);
    for (const key of ['root.key.pem', 'intermediate.key.pem']) expect(readFileSync(path.join(dir, key), 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    for (const f of ['ca-passphrase', 'ledger-password', 'ca/secrets.key']) expect(statSync(path.join(S!, f)).mode & 0o077, f).toBe(0);
    const keyPassphrase = configuredKeyPassphrase(path.join(S!, 'ca-passphrase'), {});
    const ca = await loadCa({ dir, name: 'certmint', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/intermediate.der', ...(keyPassphrase ? { keyPassphrase } : {}) });
    expect(ca.roots).toHaveLength(1);
    const box = await SecretBox.open(dir);
    expect(box.open(box.seal(Buffer.from('hmac'), 'kid'), 'kid').toString()).toBe('hmac');
  });

  it.skipIf(!opensslFound)('step 3 creates every Secret and key the Deployment reads', () => {
    const keys = secretKeys();
    for (const v of pod.spec.volumes.filter((x) => x.secret)) {
      const have = keys.get(v.secret!.secretName);
      expect(have, `README creates Secret ${v.secret!.secretName}`).toBeDefined();
      for (const item of v.secret!.items ?? []) expect([...have!], `${v.secret!.secretName}/${item.key}`).toContain(item.key);
    }
    expect([...keys.get('certmint-ca')!].sort()).toEqual(['intermediate.key.pem', 'intermediate.pem', 'root.key.pem', 'root.pem', 'secrets.key']);
  });

  it.skipIf(!opensslFound)('step 5 fills the ClusterIssuer\'s caBundle with the base64 of the CA\'s root', () => {
    const line = shellBlock('REPLACE_WITH_BASE64_OF_ROOT_PEM').split('\n').find((l) => l.startsWith('sed '))!;
    const r = bash(line.replace(/\s*\|\s*kubectl apply -f -\s*$/, ''));
    expect(r.status, r.stderr).toBe(0);
    const filled = parse(r.stdout, { version: '1.1' }) as { spec: { acme: { caBundle: string } } };
    const root = new X509Certificate(Buffer.from(filled.spec.acme.caBundle, 'base64').toString('utf8'));
    expect(root.ca).toBe(true);
    expect(root.fingerprint256).toBe(new X509Certificate(readFileSync(path.join(S!, 'ca/root.pem'))).fingerprint256);
  });
});
