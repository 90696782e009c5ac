// @peculiar/x509 reads type metadata through reflect-metadata; it must be loaded before the library.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

/**
 * Node's built-in WebCrypto: the file key provider's (file-key-provider.ts), and what checks public
 * signatures (CSRs, CA certificates). CA private keys sign through CaSigningKey (ca-key.ts), so a
 * key on a PKCS#11 token comes in as a key provider, not as a WebCrypto provider.
 */
export function nativeCryptoProvider(): Crypto {
  return globalThis.crypto;
}

/**
 * Makes `crypto` @peculiar/x509's process-wide default. ca/ never relies on that default (it passes
 * its provider to each call), but code outside ca/ that uses the library without passing one
 * does; the composition root in cli/ calls this once.
 */
export function useCryptoProvider(crypto: Crypto): void {
  x509.cryptoProvider.set(crypto);
}
