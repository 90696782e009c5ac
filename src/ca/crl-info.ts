// Before @peculiar/x509: its DI container needs the reflect polyfill at import time.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface CrlInfo {
  readonly issuer: string;
  readonly crlNumber: bigint | undefined;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: number;
}

/** What `certmint crl show` prints about a DER CRL. */
export function describeCrl(der: Uint8Array): CrlInfo {
  const crl = new x509.X509Crl(Uint8Array.from(der));
  // RFC 5280 §5.2.3 cRLNumber: extnValue holds a DER INTEGER (short-form length: at most 20 octets).
  const number = crl.extensions.find((e) => e.type === '2.5.29.20');
  const integer = number ? new Uint8Array(number.value) : undefined;
  return {
    issuer: crl.issuer,
    crlNumber: integer && integer[0] === 0x02 ? BigInt(`0x${Buffer.from(integer.subarray(2)).toString('hex') || '0'}`) : undefined,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    entries: crl.entries.length,
  };
}
