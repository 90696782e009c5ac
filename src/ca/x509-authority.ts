// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import * as x509 from '@peculiar/x509';
import { CaError } from './ca-file-io.js';
import { ecdsaSignatureToDer, signatureAlgorithmDer } from './crl/der.js';
import { encodeCertificate, encodeTbsCertificate, spkiParts, type LeafTemplate } from './leaf-der.js';
import { leafExtendedKeyUsage, leafFixedExtensions, leafKeyUsage } from './leaf-fixed-extensions.js';
import type { CaSigningKey } from './ca-key.js';
import type { CaKeyState } from './key-provider.js';
import { crlIssuerOf, signCrlAs, type CrlIssuer } from './crl/signer.js';
import { crlPartitionOf, issuingDistributionPointExtension } from './crl/partitions.js';
import { canonicalIpAddress, ipAddressForEncoding } from './ip-address.js';
import { subjectKeyIdOf, subjectNameDer } from './issuer-fields.js';
import { nameConstraintsOf, type NameConstraints } from './name-constraints.js';
import type { CaKeyAlgorithm, CertificateAuthority, CrlRequest, IntermediateGeneration, IssuedLeaf, LeafRequest, RootGeneration } from './types.js';

/** The DER OBJECT IDENTIFIER rsaEncryption (1.2.840.113549.1.1.1). */
const OID_RSA_DER = Buffer.from('06092a864886f70d010101', 'hex');
/** RFC 5280 appendix A: ub-common-name. */
const MAX_COMMON_NAME = 64;
const SERIAL_HEX = /^(?:[0-9a-f]{2}){1,20}$/;

export interface RootParts {
  /** 1 for the root `ca init` made; certmint ca rotate-root adds the next. */
  readonly generation: number;
  readonly certificate: x509.X509Certificate;
  /**
   * Signs only the CRL of the intermediates this root issued. Undefined for an external root
   * (certmint ca import): its holder signs its CRL.
   */
  readonly key: CaSigningKey | undefined;
  /** certmint's own root with its key kept elsewhere (ca.offlineRoot): key is undefined, but it is no external root. */
  readonly offline?: boolean;
  /** Root n >= 2: its subject and key, issued by root n-1 (the alternate chain's last link). */
  readonly cross: x509.X509Certificate | undefined;
}

export interface IntermediateParts {
  readonly generation: number;
  /** The root that issued it. */
  readonly rootGeneration: number;
  readonly certificate: x509.X509Certificate;
  readonly key: CaSigningKey;
  /** The CRL distribution point put in the leaves this generation signs (crl.partitions 1). */
  readonly crlUrl: string;
  /** The distribution point of one of its CRL partitions (crl.partitions > 1); its CRL's Issuing Distribution Point names the same. */
  readonly partitionCrlUrl: (partition: number) => string;
  /** AIA caIssuers in its leaves: where this generation's DER is served. */
  readonly caIssuersUrl: string;
  /** Under an external root: the CAs between this intermediate and the root, nearest first, sent after it in every chain. */
  readonly upperChain?: readonly x509.X509Certificate[];
}

export interface X509CertificateAuthorityParts {
  /** Every root, ascending: each intermediate's rootGeneration must be one of them. */
  readonly roots: readonly RootParts[];
  /** Every loaded generation; `activeGeneration` must be one of them. */
  readonly intermediates: readonly IntermediateParts[];
  readonly activeGeneration: number;
  /** crl.partitions: N > 1 puts each new leaf in partition serial mod N (ca/crl/partitions.ts); default 1. */
  readonly crlPartitions?: number;
  /** Whether the keys can sign now (the key provider's); absent: always. */
  readonly keyState?: () => CaKeyState;
}

/** What one intermediate needs to sign leaves and its CRL, built once. */
interface SigningIntermediate {
  readonly info: IntermediateGeneration;
  readonly certificate: x509.X509Certificate;
  readonly key: CaSigningKey;
  /** What it puts in every leaf, as DER (crl.partitions 1: the generation's CRL distribution point). */
  readonly leafTemplate: LeafTemplate;
  /** The template of each CRL partition's leaves (crl.partitions > 1), made when first used. */
  readonly partitionTemplates: Map<number, LeafTemplate>;
  readonly partitionCrlUrl: (partition: number) => string;
  readonly crlIssuer: CrlIssuer;
}

/**
 * Signs leaves with the active intermediate, each intermediate's CRL with that intermediate, and
 * each root's CRL of the intermediates it issued with that root. Built by loadCa (ca-files.ts): the private keys are
 * imported once, and everything that is the same in every leaf (issuer name, AKI, CRL
 * distribution point, AIA, key usages) or every CRL (issuer name DER, AKI, signature algorithm)
 * is built once here.
 */
export class X509CertificateAuthority implements CertificateAuthority {
  readonly rootsPem: string;
  readonly chainPem: string;
  readonly intermediateDer: Uint8Array;
  readonly activeGeneration: number;
  readonly nameConstraints: NameConstraints | undefined;
  readonly generations: readonly IntermediateGeneration[];
  readonly roots: readonly RootGeneration[];
  /** The newest root: the one that signs new intermediates. */
  readonly rootCertificate: x509.X509Certificate;
  /** The active intermediate. */
  readonly intermediateCertificate: x509.X509Certificate;
  /** The algorithm of the active intermediate's key (which wins over the configured one for an existing CA). */
  readonly keyAlgorithm: CaKeyAlgorithm;

  readonly #active: SigningIntermediate;
  readonly #activeParts: IntermediateParts;
  readonly #crlPartitions: number;
  readonly #byGeneration: ReadonlyMap<number, SigningIntermediate>;
  readonly #keyState: (() => CaKeyState) | undefined;
  readonly #keyUsageSignOnly: Uint8Array;
  readonly #keyUsageRsa: Uint8Array;
  readonly #extendedKeyUsage: Readonly<Record<'server' | 'client' | 'both', Uint8Array>>;
  readonly #rootCrlIssuers: ReadonlyMap<number, CrlIssuer>;

  constructor(parts: X509CertificateAuthorityParts) {
    this.#keyState = parts.keyState;
    const roots = [...parts.roots].sort((a, b) => a.generation - b.generation);
    const newestRoot = roots.at(-1);
    if (!newestRoot) throw new CaError('a CA needs a root');
    const rootsByGeneration = new Map(roots.map((r) => [r.generation, r]));
    const byGeneration = new Map<number, SigningIntermediate>();
    for (const p of [...parts.intermediates].sort((a, b) => a.generation - b.generation)) {
      const keyIdHex = subjectKeyIdOf(p.certificate).toLowerCase();
      const root = rootsByGeneration.get(p.rootGeneration);
      if (!root) throw new CaError(`intermediate generation ${p.generation} names root ${p.rootGeneration}, which is not loaded`);
      const chainPem = [p.certificate, ...(p.upperChain ?? [])].map(pemOf).join('');
      byGeneration.set(p.generation, {
        info: {
          generation: p.generation,
          rootGeneration: p.rootGeneration,
          der: new Uint8Array(p.certificate.rawData),
          chainPem,
          // RFC 8555 §7.4.2 alternate chain: for clients that trust only the root before this one.
          alternateChainPems: root.cross ? [chainPem + pemOf(root.cross)] : [],
          subject: p.certificate.subject,
          notAfter: p.certificate.notAfter,
          keyIdHex,
          nameConstraints: nameConstraintsOf(p.certificate),
        },
        certificate: p.certificate,
        key: p.key,
        leafTemplate: leafTemplateOf(p, keyIdHex, p.crlUrl),
        partitionTemplates: new Map(),
        partitionCrlUrl: p.partitionCrlUrl,
        crlIssuer: crlIssuerOf(p.certificate, p.key),
      });
    }
    const active = byGeneration.get(parts.activeGeneration);
    if (!active) throw new CaError(`the active intermediate generation ${parts.activeGeneration} is not loaded`);
    this.#active = active;
    this.#activeParts = parts.intermediates.find((p) => p.generation === parts.activeGeneration)!;
    this.#crlPartitions = parts.crlPartitions ?? 1;
    crlPartitionOf('01', this.#crlPartitions); // refuses a count out of range at load, not at the first issuance
    this.#byGeneration = byGeneration;
    this.activeGeneration = parts.activeGeneration;
    this.generations = [...byGeneration.values()].map((g) => g.info);
    this.roots = roots.map((r) => ({
      generation: r.generation,
      subject: r.certificate.subject,
      notAfter: r.certificate.notAfter,
      pem: pemOf(r.certificate),
      crossPem: r.cross ? pemOf(r.cross) : undefined,
      keyHeld: r.key !== undefined,
      keyOffline: r.key === undefined && r.offline === true,
    }));
    this.rootCertificate = newestRoot.certificate;
    this.intermediateCertificate = active.certificate;
    this.nameConstraints = active.info.nameConstraints;
    // Oldest first: a tool that reads only the first certificate keeps the root it always had.
    this.rootsPem = this.roots.map((r) => r.pem).join('');
    this.chainPem = active.info.chainPem;
    this.intermediateDer = active.info.der;
    this.keyAlgorithm = parts.intermediates.find((p) => p.generation === parts.activeGeneration)!.key.spec.algorithm;
    this.#keyUsageSignOnly = leafKeyUsage(false);
    this.#keyUsageRsa = leafKeyUsage(true);
    this.#extendedKeyUsage = { server: leafExtendedKeyUsage('server'), client: leafExtendedKeyUsage('client'), both: leafExtendedKeyUsage('both') };
    this.#rootCrlIssuers = new Map(
      roots.flatMap((r) => (r.key ? [[r.generation, crlIssuerOf(r.certificate, r.key)] as const] : [])),
    );
  }

  /** Whether every key can sign now: /ready turns 503 with the reason while one cannot. */
  keyState(): CaKeyState {
    return this.#keyState?.() ?? { ready: true };
  }

  signCrl(request: CrlRequest, generation: number = this.activeGeneration, partition?: number): Promise<Uint8Array> {
    const intermediate = this.#byGeneration.get(generation);
    if (!intermediate) {
      return Promise.reject(new CaError(`no intermediate of generation ${generation} is loaded; it cannot sign a CRL`));
    }
    if (partition === undefined) return signCrlAs(intermediate.crlIssuer, request);
    // RFC 5280 §5.2.5: the partition's scope, matched by relying parties against the leaf's CRL distribution point.
    return signCrlAs(intermediate.crlIssuer, request, [issuingDistributionPointExtension(intermediate.partitionCrlUrl(partition))]);
  }

  /** The leaf template of a CRL partition of the active generation (its distribution point differs), built once. */
  #partitionTemplate(partition: number): LeafTemplate {
    const signer = this.#active;
    let template = signer.partitionTemplates.get(partition);
    if (!template) {
      template = leafTemplateOf(this.#activeParts, signer.info.keyIdHex, signer.partitionCrlUrl(partition));
      signer.partitionTemplates.set(partition, template);
    }
    return template;
  }

  signIntermediateCrl(request: CrlRequest, rootGeneration = 1): Promise<Uint8Array> {
    const root = this.#rootCrlIssuers.get(rootGeneration);
    if (!root && this.roots.some((r) => r.generation === rootGeneration && r.keyOffline)) {
      return Promise.reject(
        new CaError(
          `root ${rootGeneration}'s key is kept offline (ca.offlineRoot): its CRL is signed by certmint crl generate --root, run where the key is`,
        ),
      );
    }
    if (!root && this.roots.some((r) => r.generation === rootGeneration)) {
      return Promise.reject(
        new CaError(`root ${rootGeneration} is an external root (certmint ca import): certmint does not hold its key, its holder publishes its CRL`),
      );
    }
    if (!root) return Promise.reject(new CaError(`no root of generation ${rootGeneration} is loaded; it cannot sign a CRL`));
    return signCrlAs(root, request);
  }

  async issueLeaf(request: LeafRequest): Promise<IssuedLeaf> {
    checkRequest(request);
    const signer = this.#active;
    const notAfterLimit = signer.certificate.notAfter;
    if (request.notBefore >= notAfterLimit) {
      throw new CaError(`the intermediate CA expired at ${notAfterLimit.toISOString()}; it cannot issue certificates`);
    }
    // A leaf that outlives its issuer fails path validation from that day on, so it ends with it.
    const notAfter = request.notAfter > notAfterLimit ? notAfterLimit : request.notAfter;

    const key = spkiParts(request.spki);
    // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING. Public data, so
    // hashed here rather than by the CA key (which may be on a token).
    const subjectKeyId = createHash('sha1').update(key.subjectPublicKey).digest();
    // Let's Encrypt's rule: a name longer than the CN upper bound goes only in the SAN.
    const commonName =
      request.commonName !== undefined && request.commonName.length <= MAX_COMMON_NAME ? request.commonName : undefined;
    const sans = request.identifiers.map((id) =>
      id.type === 'dns' ? { type: 'dns' as const, value: id.value } : { type: 'ip' as const, bytes: ipAddressBytes(id.value) },
    );
    const rsaKey = Buffer.from(key.algorithmOid).equals(OID_RSA_DER);
    // crl.partitions 1: the generation's CRL, as every leaf before partitions; N > 1: one of N.
    const crlPartition = this.#crlPartitions > 1 ? crlPartitionOf(request.serialHex, this.#crlPartitions) : undefined;
    const template = crlPartition === undefined ? signer.leafTemplate : this.#partitionTemplate(crlPartition);
    const tbs = encodeTbsCertificate(template, {
      serialHex: request.serialHex,
      // X.509 times have whole seconds.
      notBefore: wholeSeconds(request.notBefore),
      notAfter: wholeSeconds(notAfter),
      ...(commonName !== undefined ? { commonName } : {}),
      // The SPKI DER goes in as-is: the subject key is never imported, so any key type embeds.
      spki: request.spki,
      keyUsage: rsaKey && (request.keyUsage ?? ['keyEncipherment']).includes('keyEncipherment') ? this.#keyUsageRsa : this.#keyUsageSignOnly,
      extendedKeyUsage: this.#extendedKeyUsage[request.usage ?? 'both'],
      subjectKeyId,
      sans,
    });
    // Rejects with CaKeyUnavailableError while the key's device cannot sign; nothing was issued then.
    const signature = await signer.key.sign(tbs);
    const der = encodeCertificate(tbs, template, signer.key.spec.signing.name === 'ECDSA' ? ecdsaSignatureToDer(signature) : signature);
    return {
      der: new Uint8Array(der.buffer, der.byteOffset, der.byteLength),
      serialHex: request.serialHex,
      // What the certificate says.
      notBefore: wholeSeconds(request.notBefore),
      notAfter: wholeSeconds(notAfter),
      issuerGeneration: signer.info.generation,
      ...(crlPartition !== undefined ? { crlPartition } : {}),
      chainPem: signer.info.chainPem,
    };
  }
}

/** Everything that is the same in every leaf of an intermediate that names `crlUrl` as its CRL. */
function leafTemplateOf(p: IntermediateParts, keyIdHex: string, crlUrl: string): LeafTemplate {
  return {
    signatureAlgorithm: signatureAlgorithmDer(p.key.spec.algorithm),
    issuer: subjectNameDer(p.certificate),
    fixedExtensions: leafFixedExtensions(keyIdHex, crlUrl, p.caIssuersUrl),
  };
}

function checkRequest(request: LeafRequest): void {
  if (request.identifiers.length === 0) throw new CaError('a leaf needs at least one identifier');
  if (!(request.notBefore < request.notAfter)) {
    throw new CaError(`notBefore ${request.notBefore.toISOString()} is not before notAfter ${request.notAfter.toISOString()}`);
  }
  if (!isDerPositiveSerial(request.serialHex)) {
    throw new CaError(`serial "${request.serialHex}" is not the lower-case hex of a positive DER INTEGER of 1-20 octets`);
  }
  const badIp = request.identifiers.find((id) => id.type === 'ip' && canonicalIpAddress(id.value) === undefined);
  if (badIp) throw new CaError(`identifier "${badIp.value}" of type ip is not an IP address`);
  if (request.commonName !== undefined && !request.identifiers.some((id) => id.value === request.commonName)) {
    throw new CaError(`commonName "${request.commonName}" is not one of the identifiers`);
  }
}

/** RFC 5280 §4.1.2.2: positive, at most 20 content octets, minimal (a leading 00 only before a byte >= 0x80). */
function isDerPositiveSerial(hex: string): boolean {
  if (!SERIAL_HEX.test(hex)) return false;
  const first = parseInt(hex.slice(0, 2), 16);
  if (first >= 0x80) return false; // would be negative: the caller must write the 00
  if (first === 0) return hex.length > 2 && parseInt(hex.slice(2, 4), 16) >= 0x80;
  return true;
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** RFC 5280 §4.2.1.6: an iPAddress is 4 (IPv4) or 16 (IPv6) octets in network order. */
function ipAddressBytes(text: string): Uint8Array {
  const expanded = ipAddressForEncoding(text);
  if (isIPv4(expanded)) return Uint8Array.from(expanded.split('.').map(Number));
  const bytes = new Uint8Array(16);
  expanded.split(':').forEach((group, i) => {
    const n = parseInt(group, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  return bytes;
}

function pemOf(cert: x509.X509Certificate): string {
  return cert.toString('pem').replace(/\r\n/g, '\n') + '\n';
}
