import type { Identifier } from '../core/identifier.js';
import type { PublicKeyInfo } from '../core/public-key.js';
import type { RevokedColumns } from '../core/revoked-columns.js';
import type { CaKeyState } from './key-provider.js';
import type { NameConstraints } from './name-constraints.js';

/** Key algorithms the CA can create for its own root and intermediate. */
export type CaKeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export type { PublicKeyInfo } from '../core/public-key.js';

/** A PKCS#10 request after parsing and signature check (ca/csr.ts). */
export interface ParsedCsr {
  readonly der: Uint8Array;
  /**
   * DER SubjectPublicKeyInfo of the requested key in canonical form (core/canonical-key.ts),
   * whatever spelling the request used: the only form certified, hashed and compared.
   */
  readonly spki: Uint8Array;
  readonly key: PublicKeyInfo;
  readonly signatureValid: boolean;
  readonly commonName: string | undefined;
  /** dNSName and iPAddress SANs from the extensionRequest attribute, as written. */
  readonly sans: readonly Identifier[];
  /**
   * Other SANs the request asks for ("email:a@b", "url:https://…"), which certmint never
   * certifies; policy refuses the CSR rather than silently dropping them.
   */
  readonly unsupportedSans: readonly string[];
}

/** What ca/ signs: everything already checked by ra/ and policy/. */
export interface LeafRequest {
  /** DER SubjectPublicKeyInfo of the subject key. */
  readonly spki: Uint8Array;
  readonly identifiers: readonly Identifier[];
  /** Set only when it is one of the identifiers. */
  readonly commonName?: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Positive serial number, lower-case hex without leading "00" sign byte beyond what DER needs. */
  readonly serialHex: string;
  /** Extended key usage: serverAuth, clientAuth, or both (the default). */
  readonly usage?: 'server' | 'client' | 'both';
  /** Key usage bits; keyEncipherment applies to RSA keys only. Default: both. */
  readonly keyUsage?: readonly ('digitalSignature' | 'keyEncipherment')[];
}

export interface IssuedLeaf {
  readonly der: Uint8Array;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The intermediate generation that signed it (its CRL is that generation's). */
  readonly issuerGeneration: number;
  /**
   * The CRL partition its distribution point names (crl.partitions > 1): the ledger records it,
   * so its revocation rebuilds that partition's CRL. Undefined: the generation's whole CRL.
   */
  readonly crlPartition?: number;
  /** The chain that follows it in a download: its own intermediate. */
  readonly chainPem: string;
}

/** One intermediate the CA has loaded (certmint ca rotate-intermediate adds generations). */
export interface IntermediateGeneration {
  /** 1 for the intermediate `ca init` made; each rotation adds the next number. */
  readonly generation: number;
  /** The root that issued it (certmint ca rotate-root adds roots). */
  readonly rootGeneration: number;
  /** DER of the intermediate (served at its AIA caIssuers URL). */
  readonly der: Uint8Array;
  /** PEM of the intermediate: the chain that follows its leaves. */
  readonly chainPem: string;
  /**
   * Other chains for its leaves (RFC 8555 §7.4.2 rel="alternate"): under root n >= 2, the
   * intermediate then root n's cross certificate, which the root before it verifies.
   */
  readonly alternateChainPems: readonly string[];
  readonly subject: string;
  readonly notAfter: Date;
  /** Its SKI, lower-case hex: the AKI keyIdentifier of its leaves (RFC 9773 certIDs). */
  readonly keyIdHex: string;
  /** Its NameConstraints extension (RFC 5280 §4.2.1.10); undefined when it has none. */
  readonly nameConstraints: NameConstraints | undefined;
}

/** One root the CA has loaded (certmint ca rotate-root adds them; all stay trusted). */
export interface RootGeneration {
  /** 1 for the root `ca init` made. */
  readonly generation: number;
  readonly subject: string;
  readonly notAfter: Date;
  readonly pem: string;
  /** Root n >= 2: its cross certificate (issued by root n-1), PEM. */
  readonly crossPem: string | undefined;
  /**
   * False for an external root (certmint ca import): its key is held elsewhere, so certmint signs
   * and serves no CRL for it (its holder publishes that one).
   */
  readonly keyHeld: boolean;
  /**
   * True for certmint's own root whose key is kept off this machine (ca.offlineRoot): its CRL is
   * signed by `certmint crl generate --root` where the key is, and served from the ledger; it is
   * still watched for going stale. keyHeld is false then too.
   */
  readonly keyOffline: boolean;
}

/** A certificate on a CRL (RFC 5280 §5.1.2.6). */
export interface RevokedEntry {
  /** Lower-case hex as issued (see LeafRequest.serialHex); a missing 00 sign byte is added. */
  readonly serialHex: string;
  readonly revokedAt: Date;
  /** RFC 5280 §5.3.1 CRLReason code (0-10, not 7); 0 (unspecified) puts no reasonCode in the entry. */
  readonly reason: number;
}

export type { RevokedColumns } from '../core/revoked-columns.js';

/** What a CRL says besides its issuer; the ledger decides the number and the entries. */
export interface CrlRequest {
  /** RFC 5280 §5.2.3: increases with every CRL this issuer signs; at most 20 octets. */
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Entries one by one, or in columns (large CRLs: encoded in a worker thread). */
  readonly entries: readonly RevokedEntry[] | RevokedColumns;
}

/**
 * The CA's public certificates and nothing that signs: what a layer that only publishes them
 * (acme/: /roots.pem, /intermediate.der) holds instead of the CertificateAuthority.
 */
export interface CaCertificates {
  /** PEM of the root certificates clients should trust, oldest first (served at /roots.pem). */
  readonly rootsPem: string;
  /** Every root, ascending. */
  readonly roots: readonly RootGeneration[];
  /** PEM of the chain that follows a new leaf in a download: the active intermediate (and, under an external root, the CAs above it), no root. */
  readonly chainPem: string;
  /** DER of the active intermediate. */
  readonly intermediateDer: Uint8Array;
  /** The generation that signs new leaves. */
  readonly activeGeneration: number;
  /**
   * The active intermediate's name constraints, read from its certificate (an imported one's
   * count too): what it may sign, whatever ca.nameConstraints says now. Undefined: none.
   */
  readonly nameConstraints?: NameConstraints | undefined;
  /** Every intermediate loaded, ascending: the active one and those whose leaves may still be in use. */
  readonly generations: readonly IntermediateGeneration[];
  /** Whether the CA's keys can sign now (a token may be lost); absent: always. */
  keyState?(): CaKeyState;
}

/** The signing core. Only this module touches a CA private key. */
export interface CertificateAuthority extends CaCertificates {
  /** Signs with the active intermediate. */
  issueLeaf(request: LeafRequest): Promise<IssuedLeaf>;
  /**
   * DER CRL signed by an intermediate (default: the active one), for the leaves it issued (its CRL
   * distribution point); with `partition`, for the leaves of that partition only, with a critical
   * Issuing Distribution Point naming their distribution point. Throws CaError for a generation
   * that is not loaded.
   */
  signCrl(request: CrlRequest, generation?: number, partition?: number): Promise<Uint8Array>;
  /**
   * DER CRL signed by a root (default: root 1), for the intermediates it issued (RFC 5280 §6.3:
   * each issuer signs its own CRL). Throws CaError for a root that is not loaded.
   */
  signIntermediateCrl(request: CrlRequest, rootGeneration?: number): Promise<Uint8Array>;
}
