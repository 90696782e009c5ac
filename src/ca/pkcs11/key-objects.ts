import type { CaKeyAlgorithm } from '../types.js';
import { Pkcs11Error, pkcs11Failure } from './errors.js';
import { pkcs11js, type Pkcs11Library } from './module.js';
import { ecParamsOf, ecSpki, rsaSpki } from './public-key.js';
import type { Pkcs11KeyUri } from './uri.js';

type Handle = Buffer;
type Template = { type: number; value?: number | boolean | string | Buffer }[];

/** A private key found on the token with the public half certmint will verify against. */
export interface FoundKey {
  readonly handle: Handle;
  readonly algorithm: CaKeyAlgorithm;
  readonly spki: Uint8Array;
}

function selector(uri: Pkcs11KeyUri, objectClass: number): Template {
  const template: Template = [{ type: pkcs11js.CKA_CLASS, value: objectClass }];
  if (uri.label !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: uri.label });
  if (uri.id !== undefined) template.push({ type: pkcs11js.CKA_ID, value: uri.id });
  return template;
}

export function findObjects(lib: Pkcs11Library, session: Handle, template: Template, what: string): Handle[] {
  try {
    lib.C_FindObjectsInit(session, template);
    try {
      const found: Handle[] = [];
      for (;;) {
        const batch = lib.C_FindObjects(session, 32);
        if (batch.length === 0) return found;
        found.push(...batch);
      }
    } finally {
      lib.C_FindObjectsFinal(session);
    }
  } catch (e) {
    throw pkcs11Failure(`searching for ${what}`, e);
  }
}

/** "label "x", id 01, EC" for listing what a URI found. */
export function describeObject(lib: Pkcs11Library, session: Handle, handle: Handle): string {
  try {
    const [label, id, keyType] = lib.C_GetAttributeValue(session, handle, [
      { type: pkcs11js.CKA_LABEL },
      { type: pkcs11js.CKA_ID },
      { type: pkcs11js.CKA_KEY_TYPE },
    ]);
    const type = keyType?.value.readUInt32LE(0);
    const typeName = type === pkcs11js.CKK_EC ? 'EC' : type === pkcs11js.CKK_RSA ? 'RSA' : `key type ${type}`;
    return `label ${JSON.stringify(label?.value.toString('utf8') ?? '')}, id ${id?.value.toString('hex') || '(none)'}, ${typeName}`;
  } catch {
    return 'an object whose attributes cannot be read';
  }
}

/**
 * The one private key `uri` selects, or undefined. CKA_ID is not unique on a token and labels
 * repeat, so more than one match is an error that lists each (label, id, type).
 */
export function findPrivateKey(lib: Pkcs11Library, session: Handle, uri: Pkcs11KeyUri, uriText: string): Handle | undefined {
  const found = findObjects(lib, session, selector(uri, pkcs11js.CKO_PRIVATE_KEY), `private keys matching ${uriText}`);
  if (found.length <= 1) return found[0];
  const listed = found.map((h) => describeObject(lib, session, h)).join('; ');
  throw new Pkcs11Error(
    `PKCS#11 key URI ${uriText} matches ${found.length} private keys, exactly one must match: ${listed}; add id=… (or a unique object=…) to the URI`,
    undefined,
  );
}

/**
 * The candidate public halves of a private key: the private key's own RSA modulus, or the public
 * key objects sharing its label and id (an EC private key has no CKA_EC_POINT). The caller
 * keeps the candidate whose verification of a test signature succeeds.
 */
export function publicKeyCandidates(lib: Pkcs11Library, session: Handle, privateKey: Handle, what: string): FoundKey[] {
  const read = (handle: Handle, types: number[]): Buffer[] => {
    try {
      return lib.C_GetAttributeValue(session, handle, types.map((type) => ({ type }))).map((a) => a.value);
    } catch (e) {
      throw pkcs11Failure(`reading the attributes of ${what}`, e);
    }
  };
  const [keyType, label, id] = read(privateKey, [pkcs11js.CKA_KEY_TYPE, pkcs11js.CKA_LABEL, pkcs11js.CKA_ID]);
  const type = keyType?.readUInt32LE(0);
  if (type === pkcs11js.CKK_RSA) {
    const [modulus, exponent] = read(privateKey, [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]);
    return [{ handle: privateKey, ...rsaSpki(modulus ?? Buffer.alloc(0), exponent ?? Buffer.alloc(0), what) }];
  }
  if (type !== pkcs11js.CKK_EC) {
    throw new Pkcs11Error(`${what} is neither an EC nor an RSA key (CKA_KEY_TYPE ${type}); certmint signs with ECDSA or RSA`, undefined);
  }
  const template: Template = [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC },
  ];
  // Match on the id when the key has one (pkcs11-tool and most vendor tools set it), else the label.
  if (id !== undefined && id.length > 0) template.push({ type: pkcs11js.CKA_ID, value: id });
  else if (label !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: label });
  const publics = findObjects(lib, session, template, `the public key of ${what}`);
  if (publics.length === 0) {
    throw new Pkcs11Error(`${what} has no public key object with its id (or label) on the token, so certmint cannot know its public key`, undefined);
  }
  return publics.map((handle) => {
    const [params, point] = read(handle, [pkcs11js.CKA_EC_PARAMS, pkcs11js.CKA_EC_POINT]);
    return { handle: privateKey, ...ecSpki(params ?? Buffer.alloc(0), point ?? Buffer.alloc(0), what) };
  });
}

/**
 * Generates a key pair on the token: token objects under the URI's label and id, the private
 * key private, sensitive, never extractable and only for signing.
 */
export async function generateKeyPair(
  lib: Pkcs11Library,
  session: Handle,
  uri: Pkcs11KeyUri,
  algorithm: CaKeyAlgorithm,
): Promise<Handle> {
  const named: Template = [];
  if (uri.label !== undefined) named.push({ type: pkcs11js.CKA_LABEL, value: uri.label });
  if (uri.id !== undefined) named.push({ type: pkcs11js.CKA_ID, value: uri.id });
  const ec = algorithm === 'ecdsa-p256' || algorithm === 'ecdsa-p384';
  const publicTemplate: Template = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VERIFY, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
    { type: pkcs11js.CKA_WRAP, value: false },
    ...named,
    ...(ec
      ? [{ type: pkcs11js.CKA_EC_PARAMS, value: ecParamsOf(algorithm) }]
      : [
          { type: pkcs11js.CKA_MODULUS_BITS, value: Number(algorithm.slice('rsa-'.length)) },
          { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
        ]),
  ];
  const privateTemplate: Template = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_SIGN, value: true },
    // Sign-only: a token's defaults may let a key decrypt, unwrap or derive too, which a CA key
    // must never do (one key, one purpose).
    { type: pkcs11js.CKA_DECRYPT, value: false },
    { type: pkcs11js.CKA_UNWRAP, value: false },
    { type: pkcs11js.CKA_DERIVE, value: false },
    ...named,
  ];
  const mechanism = { mechanism: ec ? pkcs11js.CKM_EC_KEY_PAIR_GEN : pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN };
  const pair = await lib.C_GenerateKeyPairAsync(session, mechanism, publicTemplate, privateTemplate);
  return pair.privateKey;
}
