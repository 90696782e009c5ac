import { readPrivateFileSync } from '../private-file.js';
import { Pkcs11Error } from './errors.js';

/**
 * The user PIN from ca.pkcs11.pinFile, checked like the other secret files (mode 0600/0400,
 * refused when others can read it). One trailing newline is dropped: secrets written by
 * `echo` or mounted by Kubernetes end with one. The PIN never comes from the config text.
 */
export function readPkcs11PinFile(file: string): string {
  const bytes = readPrivateFileSync(file, `the PKCS#11 PIN file ${file} (ca.pkcs11.pinFile)`);
  let end = bytes.length;
  if (bytes[end - 1] === 0x0a) end -= 1;
  if (bytes[end - 1] === 0x0d) end -= 1;
  const pin = bytes.subarray(0, end).toString('utf8');
  bytes.fill(0);
  if (pin === '') throw new Pkcs11Error(`the PKCS#11 PIN file ${file} (ca.pkcs11.pinFile) is empty`, undefined);
  return pin;
}
