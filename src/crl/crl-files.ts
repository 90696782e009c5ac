import { readFile } from 'node:fs/promises';
import { writeFileAtomically } from '../core/atomic-file.js';

/**
 * Writes a CRL as `<base>.crl` (DER) and `<base>.crl.pem`, each atomically and durably, unless they
 * hold it already: every start adopts the CRLs the ledger stores, which the files a previous run
 * wrote usually hold, and rewriting them is two fsyncs each plus the directory's (issue 27: start-up).
 */
export async function writeCrlFiles(base: string, der: Uint8Array): Promise<void> {
  if (await holdsAlready(base, der)) return;
  await Promise.all([
    writeFileAtomically(`${base}.crl`, der, { mode: 0o644 }),
    pemSlices(der).then((slices) => writeFileAtomically(`${base}.crl.pem`, slices.join(''), { mode: 0o644 })),
  ]);
}

/**
 * Whether `<base>.crl` holds exactly `der` and `<base>.crl.pem` exactly its PEM (both are checked:
 * a crash between the two writes leaves one of them older).
 */
async function holdsAlready(base: string, der: Uint8Array): Promise<boolean> {
  try {
    const [file, pem] = await Promise.all([readFile(`${base}.crl`), readFile(`${base}.crl.pem`, 'utf8')]);
    return Buffer.compare(file, der) === 0 && pem === (await pemSlices(der)).join('');
  } catch {
    return false;
  }
}

/** 48 bytes make one 64-character PEM line; 1,024 lines per slice between yields to the event loop. */
const PEM_SLICE_BYTES = 48 * 1024;

/**
 * The CRL as PEM (label "X509 CRL", RFC 7468), written a slice at a time: wrapping a 5 MB CRL in
 * one go would hold the event loop for ~50 ms.
 */
async function pemSlices(der: Uint8Array): Promise<string[]> {
  const out = ['-----BEGIN X509 CRL-----\n'];
  for (let offset = 0; offset < der.length; offset += PEM_SLICE_BYTES) {
    const b64 = Buffer.from(der.buffer, der.byteOffset + offset, Math.min(PEM_SLICE_BYTES, der.length - offset)).toString('base64');
    const lines: string[] = [];
    for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
    out.push(`${lines.join('\n')}\n`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  out.push('-----END X509 CRL-----\n');
  return out;
}
