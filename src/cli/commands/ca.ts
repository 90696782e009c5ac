import type { CertificateAuthority } from '../../ca/types.js';
import type { CertificateLedger } from '../../ledger/ledger.js';

/** What `certmint ca rotate-intermediate` prints. */
export function rotateIntermediateReport(ca: CertificateAuthority, dir: string): string {
  const active = ca.generations.find((g) => g.generation === ca.activeGeneration)!;
  const files = active.generation === 1 ? 'intermediate.pem' : `intermediate-${active.generation}.pem`;
  return [
    `created intermediate generation ${active.generation} in ${dir}/${files} (and its key)`,
    `  subject    ${active.subject}`,
    `  not after  ${active.notAfter.toISOString()}`,
    'It signs every new certificate from the next start of certmint serve on; the older generations keep',
    'signing the CRLs of the certificates they issued until the last of those expires.',
    'Restart certmint serve now: a running server goes on issuing from the generation it loaded.',
    '',
  ].join('\n');
}

export interface GenerationStatus {
  readonly generation: number;
  readonly active: boolean;
  readonly subject: string;
  readonly notAfter: string;
  /** Valid (not revoked), unexpired certificates it signed. */
  readonly liveCertificates: number;
}

/** `certmint ca status`: every intermediate generation, with how many live certificates chain to it. */
export async function caStatusCommand(ca: CertificateAuthority, ledger: CertificateLedger, now: Date, o: { json?: boolean }): Promise<string> {
  const live = await ledger.liveCertificatesByGeneration(now);
  const rows: GenerationStatus[] = ca.generations.map((g) => ({
    generation: g.generation,
    active: g.generation === ca.activeGeneration,
    subject: g.subject,
    notAfter: g.notAfter.toISOString(),
    liveCertificates: live.get(g.generation) ?? 0,
  }));
  if (o.json) return `${JSON.stringify(rows, null, 2)}\n`;
  const table = [['GENERATION', 'NOT AFTER', 'LIVE', 'SUBJECT']];
  for (const r of rows) {
    table.push([`${r.generation}${r.active ? ' (active)' : ''}`, r.notAfter, String(r.liveCertificates), r.subject]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
