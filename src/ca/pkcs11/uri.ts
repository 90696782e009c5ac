import { Pkcs11Error } from './errors.js';

/** What a key URI selects: the object label (CKA_LABEL) and/or the id bytes (CKA_ID). */
export interface Pkcs11KeyUri {
  readonly label: string | undefined;
  readonly id: Buffer | undefined;
}

/**
 * RFC 7512 `pkcs11:object=<label>;id=<%-encoded bytes>`. The token comes from ca.pkcs11.token
 * and the PIN from ca.pkcs11.pinFile, so every other attribute is refused rather than silently
 * ignored (a `token=` that disagrees with ca.pkcs11.token would otherwise select nothing
 * anyone meant). Query attributes are refused without echoing their values: `pin-value` is one.
 */
export function parsePkcs11Uri(uri: string): Pkcs11KeyUri {
  const bad = (why: string): Pkcs11Error =>
    new Pkcs11Error(`PKCS#11 key URI ${describeForError(uri)} is not usable: ${why}`, undefined);
  if (!uri.startsWith('pkcs11:')) throw bad('it must start with "pkcs11:" (RFC 7512)');
  const [path = '', query] = uri.slice('pkcs11:'.length).split('?', 2);
  if (query !== undefined && query !== '') {
    const names = query.split('&').map((part) => part.split('=', 1)[0]);
    throw bad(
      `query attributes (${names.join(', ')}) are not accepted; the PIN comes from ca.pkcs11.pinFile and the module from ca.pkcs11.module`,
    );
  }
  let label: string | undefined;
  let id: Buffer | undefined;
  for (const part of path.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (name === 'object') {
      if (label !== undefined) throw bad('"object" is given twice');
      label = percentDecode(value, bad).toString('utf8');
    } else if (name === 'id') {
      if (id !== undefined) throw bad('"id" is given twice');
      id = percentDecode(value, bad);
      if (id.length === 0) throw bad('"id" is empty');
    } else {
      throw bad(`attribute "${name}" is not accepted; certmint selects keys by object (label) and id only`);
    }
  }
  if (label === undefined && id === undefined) throw bad('it needs object=<label> and/or id=<%-encoded bytes>');
  return { label, id };
}

/** The URI of a label and id, %-encoding what RFC 7512 requires (id: every byte). */
export function formatPkcs11Uri(key: Pkcs11KeyUri): string {
  const parts: string[] = [];
  if (key.label !== undefined) parts.push(`object=${encodeURIComponent(key.label)}`);
  if (key.id !== undefined) parts.push(`id=${[...key.id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`);
  return `pkcs11:${parts.join(';')}`;
}

function percentDecode(value: string, bad: (why: string) => Pkcs11Error): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; ) {
    if (value[i] === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw bad(`"%${hex}" is not a %-encoded byte`);
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      const char = value.codePointAt(i) ?? 0;
      const encoded = Buffer.from(String.fromCodePoint(char), 'utf8');
      bytes.push(...encoded);
      i += char > 0xffff ? 2 : 1;
    }
  }
  return Buffer.from(bytes);
}

/** The URI without its query, which may hold a pin-value. */
function describeForError(uri: string): string {
  return JSON.stringify(uri.split('?', 1)[0]);
}
