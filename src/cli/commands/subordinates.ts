import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { certificatePemOf } from '../../ca/ca-certificates.js';
import { CaError } from '../../ca/ca-file-io.js';
import { checkTrustDomain, issueIstioCa, ISTIO_PLUGIN_FILES, refuseExistingPluginFiles, writeIstioPluginFiles } from '../../ca/istio-ca.js';
import { readCaCsr, signSubordinate, subordinateConstraints, type SignedSubordinate } from '../../ca/subordinate-ca.js';
import type { Config } from '../../config/config.js';
import { writeFileAtomically } from '../../core/atomic-file.js';
import { parseDuration } from '../../core/duration.js';
import type { CertificateLedger, SubordinateKind, SubordinateRecord } from '../../ledger/ledger.js';
import { subjectKeyProblem } from '../../policy/keys.js';
import { processClock } from '../fake-clock.js';
import { caOptionsOf, operatorName, readConfig, withLedger } from '../admin.js';
import { withCaKeys } from '../ca-key-source.js';
import { UsageError } from './certs.js';
import { subordinateJson } from '../../ra/ca-status.js';

const YEAR_MS = 365 * 86_400_000;

/** `--validity 1y`, `90d`, `2160h`: the durations of the config, and years of 365 days. */
export function parseValidity(text: string): number {
  const years = /^\s*(\d+)\s*y\s*$/.exec(text);
  let ms: number;
  try {
    ms = years ? Number(years[1]) * YEAR_MS : parseDuration(text);
  } catch {
    throw new UsageError(`--validity ${JSON.stringify(text)} is not a duration (e.g. 1y, 180d, 720h)`);
  }
  if (!(ms >= 3_600_000)) throw new UsageError(`--validity ${JSON.stringify(text)} is shorter than an hour`);
  return ms;
}

function checkLabel(label: string): string {
  const l = label.trim();
  if (l === '' || l.length > 100 || /[\p{Cc}]/u.test(l)) {
    throw new UsageError(`--label ${JSON.stringify(label)} must be 1 to 100 printable characters (what the subordinate is for, e.g. vault-prod)`);
  }
  return l;
}

function readCsrFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CaError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];

/** The row of a signed subordinate: committed to the ledger (with its audit entry) before anyone sees the certificate. */
function record(ledger: CertificateLedger, s: SignedSubordinate, label: string, kind: SubordinateKind): Promise<void> {
  const pem = certificatePemOf(s.certificate);
  return ledger.subordinates.recordSubordinate({
    serial: s.certificate.serialNumber.toLowerCase(),
    label,
    kind,
    rootGeneration: s.rootGeneration,
    subject: s.certificate.subject,
    notBefore: s.certificate.notBefore,
    notAfter: s.certificate.notAfter,
    der: new Uint8Array(s.certificate.rawData),
    pem,
    constraints: s.constraints,
    keyHash: s.keyHash,
    createdAt: processClock().now(),
    actor: `operator:${operatorName()}`,
  });
}

function signedReport(s: SignedSubordinate, what: string): string {
  return [
    `signed ${what} with root ${s.rootGeneration} (recorded in the ledger; certmint revoke ${s.certificate.serialNumber.toLowerCase()} puts it on the root's CRL)`,
    `  serial     ${s.certificate.serialNumber.toLowerCase()}`,
    `  subject    ${s.certificate.subject}`,
    `  not after  ${s.certificate.notAfter.toISOString()}`,
    `  permitted  ${s.constraints.permitted.join(', ') || '(any)'}`,
    `  excluded   ${s.constraints.excluded.join(', ') || '(none)'}`,
    '',
  ].join('\n');
}

function kubectlCommand(dir: string): string {
  const files = ISTIO_PLUGIN_FILES.map((f) => `--from-file=${path.join(dir, f)}`).join(' \\\n    ');
  return `kubectl create secret generic cacerts -n istio-system \\\n    ${files}\n`;
}

/** Istio's cacerts Secret as YAML (istio-system), for GitOps or kubectl apply -f. */
function secretYaml(files: Readonly<Record<string, string>>): string {
  const data = Object.entries(files).map(([name, text]) => `  ${name}: ${Buffer.from(text).toString('base64')}`);
  return ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: cacerts', '  namespace: istio-system', 'type: Opaque', 'data:', ...data, ''].join('\n');
}

function subordinatesText(rows: readonly SubordinateRecord[], now: Date): string {
  if (rows.length === 0) return 'no subordinate CAs\n';
  const table = [
    ['SERIAL', 'LABEL', 'KIND', 'ROOT', 'NOT AFTER', 'STATUS', 'CONSTRAINTS (!excluded)'],
    ...rows.map((s) => {
      const state = s.status === 'revoked' ? 'revoked' : s.notAfter <= now ? 'expired' : 'valid';
      const constraints = [...s.constraints.permitted, ...s.constraints.excluded.map((e) => `!${e}`)].join(',') || '-';
      return [s.serial, s.label, s.kind, String(s.rootGeneration), s.notAfter.toISOString(), state, constraints];
    }),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** `certmint ca subordinates`: soonest expiry first. */
export async function subordinatesCommand(ledger: CertificateLedger, o: { expiringWithin?: string; json?: boolean }, now: Date): Promise<string> {
  let filter: { now: Date; notAfterBefore: Date } | undefined;
  if (o.expiringWithin !== undefined) {
    let ms: number;
    try {
      ms = parseDuration(o.expiringWithin);
    } catch {
      throw new UsageError(`--expiring-within ${JSON.stringify(o.expiringWithin)} is not a duration (e.g. 30d, 12h)`);
    }
    filter = { now, notAfterBefore: new Date(now.getTime() + ms) };
  }
  const rows = await ledger.subordinates.listSubordinates(filter);
  return o.json ? `${JSON.stringify(rows.map(subordinateJson), null, 2)}\n` : subordinatesText(rows, now);
}

/** `certmint ca sign-subordinate`, `ca issue-istio-ca` and `ca subordinates` (ca-commands.ts registers them). */
export function registerSubordinateCommands(ca: Command): void {
  ca.command('sign-subordinate')
    .description("the newest root signs another CA's CSR (Vault's intermediate/generate, any CA): prints the certificate then the root")
    .requiredOption('--csr <file>', 'the CA certificate request (PEM)')
    .requiredOption('--label <name>', 'what it is for (vault-prod, …): shown by ca subordinates and the metric')
    .option('--permit <constraint>', 'a permitted name: example.internal, 10.0.0.0/8, uri:cluster.local (repeat or comma-separate)', collect, [])
    .option('--exclude <constraint>', 'an excluded name, same forms (repeat or comma-separate)', collect, [])
    .option('--path-length <n>', 'how many CAs may follow it in a chain', '0')
    .option('--validity <duration>', 'e.g. 1y, 180d; it must end before the root', '1y')
    .option('--out <file>', 'write the PEM there instead of to stdout')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { csr: string; label: string; permit: string[]; exclude: string[]; pathLength: string; validity: string; out?: string; config?: string }) => {
      const config = readConfig(opts.config);
      const label = checkLabel(opts.label);
      const validityMs = parseValidity(opts.validity);
      subordinateConstraints(opts.permit, opts.exclude);
      if (!/^\d+$/.test(opts.pathLength)) throw new UsageError(`--path-length ${JSON.stringify(opts.pathLength)} is not a whole number (0: it signs leaves only)`);
      const csr = await readCaCsr(readCsrFile(opts.csr), opts.csr);
      // The same keys certmint certifies for leaves: a weak CA key would be worse than a weak leaf.
      const weak = subjectKeyProblem(csr.key);
      if (weak) throw new UsageError(`${opts.csr}: ${weak}; nothing was signed`);
      const signed = await withCaKeys(config, caOptionsOf(config), (o) =>
        signSubordinate(o, { spki: csr.spki, subject: csr.subject, permitted: opts.permit, excluded: opts.exclude, pathLength: Number(opts.pathLength), validityMs, action: 'sign a subordinate CA' }),
      );
      await withLedger(config, (ledger) => record(ledger, signed, label, 'subordinate'));
      const pem = certificatePemOf(signed.certificate) + certificatePemOf(signed.root);
      if (opts.out) await writeFileAtomically(opts.out, pem, { mode: 0o644 });
      else process.stdout.write(pem);
      process.stderr.write(signedReport(signed, `subordinate CA "${label}"`) + (opts.out ? `wrote the certificate and the root to ${opts.out}\n` : ''));
    });

  ca.command('issue-istio-ca')
    .description("a plug-in CA for istiod, constrained to the trust domain: writes ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem")
    .requiredOption('--trust-domain <domain>', "Istio's trust domain (meshConfig.trustDomain), e.g. cluster.local")
    .requiredOption('--out <dir>', 'where the four files go (created 0700 if missing; existing files are never overwritten)')
    .option('--validity <duration>', 'e.g. 1y, 180d; it must end before the root', '1y')
    .option('--kubernetes-secret', "also write the cacerts Secret (istio-system) as cacerts-secret.yaml")
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { trustDomain: string; out: string; validity: string; kubernetesSecret?: boolean; config?: string }) => {
      const config = readConfig(opts.config);
      const trustDomain = checkTrustDomain(opts.trustDomain);
      const validityMs = parseValidity(opts.validity);
      await refuseExistingPluginFiles(opts.out);
      const istio = await withCaKeys(config, caOptionsOf(config), (o) => issueIstioCa(o, { trustDomain, validityMs }));
      await withLedger(config, (ledger) => record(ledger, istio.signed, `istio-${trustDomain}`, 'istio'));
      const written = await writeIstioPluginFiles(opts.out, istio, opts.kubernetesSecret ? secretYaml : undefined);
      process.stdout.write(
        signedReport(istio.signed, `an Istio CA for spiffe://${trustDomain}`) +
          `wrote ${written.join(', ')}\n\nHand them to istiod (then restart it: kubectl rollout restart deployment/istiod -n istio-system):\n\n` +
          kubectlCommand(opts.out) +
          (opts.kubernetesSecret ? `\nor apply the Secret: kubectl apply -f ${path.join(opts.out, 'cacerts-secret.yaml')}\n` : ''),
      );
    });

  ca.command('subordinates')
    .description('the subordinate CAs the roots signed (ca sign-subordinate, ca issue-istio-ca), soonest expiry first')
    .option('--expiring-within <duration>', 'only valid ones that end within e.g. 30d')
    .option('--json', 'JSON instead of a table')
    .option('-c, --config <file>', 'YAML config file (also CERTMINT_CONFIG)')
    .action(async (opts: { expiringWithin?: string; json?: boolean; config?: string }) => {
      const config: Config = readConfig(opts.config);
      process.stdout.write(await withLedger(config, (ledger) => subordinatesCommand(ledger, opts, processClock().now())));
    });
}
