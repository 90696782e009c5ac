import type { IntermediateCsr } from '../../ca/ca-csr.js';
import type { CaImportResult } from '../../ca/ca-import.js';
import type { CertificateAuthority } from '../../ca/types.js';
import { describeNameConstraints, hasNameConstraints, nameConstraintsJson, type NameConstraints } from '../../ca/name-constraints.js';
import { constraintsDiffer, underExternalRoot } from '../name-constraints-check.js';
import type { CertificateLedger } from '../../ledger/ledger.js';
import { caGenerations, type GenerationStatus, type RootStatus } from '../../ra/ca-status.js';

export type { GenerationStatus, RootStatus };

/** The name constraints (ca.nameConstraints) the new intermediate carries, when it carries any. */
function constraintsLine(ca: CertificateAuthority): string[] {
  return hasNameConstraints(ca.nameConstraints) ? [`  name constraints (critical)  ${describeNameConstraints(ca.nameConstraints)}`] : [];
}

/** What `certmint ca rotate-intermediate` prints. */
export function rotateIntermediateReport(ca: CertificateAuthority, dir: string): string {
  const active = ca.generations.find((g) => g.generation === ca.activeGeneration)!;
  const files = active.generation === 1 ? 'intermediate.pem' : `intermediate-${active.generation}.pem`;
  return [
    `created intermediate generation ${active.generation} in ${dir}/${files} (and its key)`,
    `  subject    ${active.subject}`,
    `  not after  ${active.notAfter.toISOString()}`,
    ...constraintsLine(ca),
    'It signs every new certificate from the next start of certmint serve on; the older generations keep',
    'signing the CRLs of the certificates they issued until the last of those expires.',
    'Restart certmint serve now: a running server goes on issuing from the generation it loaded.',
    '',
  ].join('\n');
}

/** What `certmint ca rotate-root` prints. */
export function rotateRootReport(ca: CertificateAuthority, dir: string): string {
  const root = ca.roots.at(-1)!;
  const active = ca.generations.find((g) => g.generation === ca.activeGeneration)!;
  return [
    `created root ${root.generation} in ${dir}/root-${root.generation}.pem (and its key), cross-signed by root ${root.generation - 1} in ${dir}/root-${root.generation}-cross.pem`,
    `  subject    ${root.subject}`,
    `  not after  ${root.notAfter.toISOString()}`,
    `and intermediate generation ${active.generation} under it in ${dir}/intermediate-${active.generation}.pem (and its key), now active:`,
    `  subject    ${active.subject}`,
    `  not after  ${active.notAfter.toISOString()}`,
    ...constraintsLine(ca),
    'Restart certmint serve now: a running server goes on issuing from the generation it loaded.',
    '/roots.pem then holds every root, oldest first. New certificates come with the chain to the new root;',
    'clients that trust only the old root take the alternate chain (Link rel="alternate"), which ends in the',
    'cross certificate. Have clients add the new root before the old one expires.',
    '',
  ].join('\n');
}

export interface CaStatus {
  readonly roots: readonly RootStatus[];
  readonly intermediates: readonly GenerationStatus[];
  /** The active intermediate's (what binds issuance); `configured` only when ca.nameConstraints differs. */
  readonly nameConstraints: {
    readonly active: { permitted: string[]; excluded: string[] };
    readonly configured?: { permitted: string[]; excluded: string[] };
  };
}

/** `certmint ca status`: every root and intermediate generation, with how many live certificates chain to each. */
export async function caStatusCommand(
  ca: CertificateAuthority,
  ledger: CertificateLedger,
  now: Date,
  o: { json?: boolean; configuredConstraints?: NameConstraints },
): Promise<string> {
  const { roots, intermediates } = await caGenerations(ca, ledger, now);
  const external = underExternalRoot(ca);
  const differs = o.configuredConstraints !== undefined && constraintsDiffer(o.configuredConstraints, ca.nameConstraints, external);
  const nameConstraints = {
    active: nameConstraintsJson(ca.nameConstraints),
    ...(differs ? { configured: nameConstraintsJson(o.configuredConstraints) } : {}),
  };
  if (o.json) return `${JSON.stringify({ roots, intermediates, nameConstraints } satisfies CaStatus, null, 2)}\n`;
  const rootTable = [['ROOT', 'NOT AFTER', 'LIVE', 'SUBJECT']];
  for (const r of roots) {
    rootTable.push([`${r.root}${r.newest ? ' (newest)' : ''}${r.crossSigned ? ' (cross-signed)' : ''}${r.external ? ' (external)' : ''}${r.keyOffline ? ' (key offline)' : ''}`, r.notAfter, String(r.liveCertificates), r.subject]);
  }
  const generationTable = [['GENERATION', 'ROOT', 'NOT AFTER', 'LIVE', 'SUBJECT']];
  for (const g of intermediates) {
    generationTable.push([`${g.generation}${g.active ? ' (active)' : ''}`, String(g.root), g.notAfter, String(g.liveCertificates), g.subject]);
  }
  // Shown once there are any, so a CA without them reads as before.
  const constraintLines = !hasNameConstraints(ca.nameConstraints) && !differs ? [] : [
    `name constraints of the active intermediate: ${describeNameConstraints(ca.nameConstraints)}`,
    ...(differs
      ? [`configured (ca.nameConstraints): ${describeNameConstraints(o.configuredConstraints)}; ${external ? "the external root's operator writes them into the intermediate" : 'run certmint ca rotate-intermediate to apply them'}`]
      : []),
  ];
  return `${tableText(rootTable)}\n${tableText(generationTable)}${constraintLines.length > 0 ? `\n${constraintLines.join('\n')}\n` : ''}`;
}

function tableText(table: readonly (readonly string[])[]): string {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** What `certmint ca import` prints. */
export function caImportReport(result: CaImportResult, dir: string, keyFile: string | undefined, keyOnToken = false): string {
  const key = keyOnToken ? 'its key on the PKCS#11 token, under ca.pkcs11.intermediateKey' : `its key in intermediate.key.pem${result.usedPendingKey ? ', the pending key of ca csr' : ''}`;
  return [
    `imported the intermediate into ${dir}/intermediate.pem (${key})`,
    `  subject    ${result.ca.intermediateCertificate.subject}`,
    `  issuer     ${result.ca.intermediateCertificate.issuer}`,
    `  not after  ${result.ca.intermediateCertificate.notAfter.toISOString()}`,
    ...result.issuers.map((c) => `  via        ${c.subject}`),
    `under the external root in ${dir}/root.pem (served at /roots.pem):`,
    `  subject    ${result.root.subject}`,
    `  not after  ${result.root.notAfter.toISOString()}`,
    'certmint holds no root key: the root\'s CRL and a new intermediate come from the root\'s operator.',
    ...(keyFile ? [`The key is stored in the CA directory now: remove ${keyFile} once you have a backup of it.`] : []),
    '',
  ].join('\n');
}

/** What `certmint ca csr` prints on stderr (the request itself goes to stdout or --out). */
export function caCsrReport(csr: IntermediateCsr, out: string | undefined): string {
  return [
    csr.reused
      ? `the key from an earlier certmint ca csr is still waiting in ${csr.keyFile}; this is its request again`
      : `created the intermediate key ${csr.keyFile}`,
    `Have your root CA sign the request${out ? ` in ${out}` : ''} as a CA certificate (basicConstraints CA:TRUE, keyUsage keyCertSign and cRLSign),`,
    'then: certmint ca import --cert <signed.pem> --chain <issuers up to the root.pem>',
    '',
  ].join('\n');
}
