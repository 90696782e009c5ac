/** A subject public key described for policy checks (parsed by ca/, judged by policy/). */
export type PublicKeyInfo =
  | { readonly kind: 'rsa'; readonly bits: number; readonly exponent: bigint }
  | { readonly kind: 'ec'; readonly curve: 'P-256' | 'P-384' | 'P-521' | string }
  | { readonly kind: 'ed25519' }
  | { readonly kind: 'other'; readonly oid: string };
