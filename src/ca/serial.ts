import { randomBytes } from 'node:crypto';

/**
 * A certificate serial number: a fixed 0x01 byte then 128 random bits (34 lower-case hex digits).
 * The prefix keeps the DER INTEGER positive without a 0x00 pad and its length constant, and the
 * 128 bits are well above the 64 the CA/Browser Forum baseline asks for (RFC 5280 §4.1.2.2 allows
 * up to 20 octets).
 */
export function newSerialHex(): string {
  return '01' + randomBytes(16).toString('hex');
}
