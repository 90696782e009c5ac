// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { createCipheriv, createPrivateKey, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { CaError } from './ca-file-io.js';
import { KEY_PASSPHRASE_SETTINGS, type KeyPassphrase } from './key-passphrase.js';

/*
 * CA private keys on disk: PKCS#8 PEM, plain ("BEGIN PRIVATE KEY") or encrypted ("BEGIN ENCRYPTED
 * PRIVATE KEY", RFC 5958 §3 with PBES2, RFC 8018). certmint writes PBES2 with scrypt (N=2^14, r=8,
 * p=1: what `openssl pkcs8 -topk8 -scrypt` writes) and AES-256-CBC; it reads whatever OpenSSL
 * reads (scrypt or PBKDF2). Node's KeyObject.export would encrypt with PBKDF2 at 2,048 iterations,
 * too few against a guessed passphrase, hence the encoding below.
 * No error here carries the input or the passphrase: node:crypto's messages are replaced, not quoted.
 */

const SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/** What a PEM private key file holds, before any passphrase is used. */
export type PrivateKeyPemType = 'PRIVATE KEY' | 'ENCRYPTED PRIVATE KEY' | 'EC PRIVATE KEY' | 'RSA PRIVATE KEY';

export function isPrivateKeyPemType(type: string): type is PrivateKeyPemType {
  return type === 'PRIVATE KEY' || type === 'ENCRYPTED PRIVATE KEY' || type === 'EC PRIVATE KEY' || type === 'RSA PRIVATE KEY';
}

/**
 * Decrypts and parses a private key PEM (one block of `type`) into a KeyObject. `file` names it
 * in errors. @throws CaError without the passphrase or any of the key's bytes in its message.
 */
export function privateKeyObjectOf(pem: string, type: PrivateKeyPemType, file: string, passphrase: KeyPassphrase | undefined): KeyObject {
  if (type === 'ENCRYPTED PRIVATE KEY' && passphrase === undefined) {
    throw new CaError(`${file} is an encrypted private key and no passphrase is configured: set ${KEY_PASSPHRASE_SETTINGS}`);
  }
  try {
    return createPrivateKey(type === 'ENCRYPTED PRIVATE KEY' ? { key: pem, format: 'pem', passphrase: passphrase!.bytes() } : { key: pem, format: 'pem' });
  } catch {
    if (type === 'ENCRYPTED PRIVATE KEY') throw new CaError(`cannot decrypt ${file}: wrong passphrase? (it came from ${passphrase!.source})`);
    throw new CaError(`${file} holds a "${type}" block that is not a readable private key`);
  }
}

/** The PKCS#8 DER of a key; the caller zeroes it once it is imported. */
export function pkcs8DerOf(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'pkcs8', format: 'der' }));
}

/** A PKCS#8 private key as PEM: encrypted under `passphrase` when there is one. */
export function privateKeyPemOf(pkcs8: Uint8Array, passphrase: KeyPassphrase | undefined): string {
  if (passphrase === undefined) return x509.PemConverter.encode(Uint8Array.from(pkcs8).buffer, 'PRIVATE KEY') + '\n';
  const der = encryptPkcs8(pkcs8, passphrase);
  return x509.PemConverter.encode(Uint8Array.from(der).buffer, 'ENCRYPTED PRIVATE KEY') + '\n';
}

/** RFC 5958 EncryptedPrivateKeyInfo: PBES2 (RFC 8018 §6.2) with scrypt (RFC 7914 §7) and AES-256-CBC. */
function encryptPkcs8(pkcs8: Uint8Array, passphrase: KeyPassphrase): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = scryptSync(passphrase.bytes(), salt, 32, SCRYPT);
  let encrypted: Buffer;
  try {
    const cipher = createCipheriv('aes-256-cbc', key, iv);
    encrypted = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  } finally {
    key.fill(0);
  }
  const scryptParams = sequence(octetString(salt), integer(SCRYPT.N), integer(SCRYPT.r), integer(SCRYPT.p));
  const pbes2Params = sequence(
    sequence(oid('1.3.6.1.4.1.11591.4.11'), scryptParams),
    sequence(oid('2.16.840.1.101.3.4.1.42'), octetString(iv)),
  );
  return sequence(sequence(oid('1.2.840.113549.1.5.13'), pbes2Params), octetString(encrypted));
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const octetString = (b: Buffer): Buffer => tlv(0x04, b);

/** A small non-negative INTEGER. */
function integer(v: number): Buffer {
  const bytes: number[] = [];
  for (let x = v; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  if (bytes.length === 0 || bytes[0]! >= 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const groups: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}
