import { CA_DEFAULTS, type CaOptions } from '../ca/ca-files.js';
import { fileKeyProvider } from '../ca/file-key-provider.js';
import type { Pkcs11Token } from '../ca/pkcs11/index.js';
import type { Config } from '../config/config.js';

/** How often /ready asks an idle token whether it is still there (a token lost while nothing signs). */
const PROBE_INTERVAL_MS = 5_000;

/** The CA keys of ca.keyProvider for one process: the token opened once, closed once. */
export interface CaKeySource {
  /** `o` with the provider of ca.keyProvider (file: unchanged). */
  readonly options: CaOptions;
  /** With a token: probes it every few seconds so that /ready sees a token lost while idle. */
  watch(onProbeError: (message: string) => void): void;
  /** Waits for signatures in flight, then closes the token's sessions (and the module). */
  close(): Promise<void>;
}

/**
 * Opens what ca.keyProvider names. For pkcs11: reads the PIN file, opens and logs in to the token,
 * and checks each configured URI (at most one private key each) and the mechanisms, so that a
 * start that would fail does so before anything is created on the token or in the CA directory.
 * Failures are the token library's one-line Pkcs11Error (a CaError).
 */
export async function openCaKeySource(config: Config, o: CaOptions, warn: (message: string) => void): Promise<CaKeySource> {
  const p = config.ca.pkcs11;
  if (p === undefined) return { options: o, watch: () => undefined, close: async () => undefined };
  // Loaded only with a token: the PKCS#11 binding (a native addon) stays out of a file-key start.
  const [{ openPkcs11Token, readPkcs11PinFile }, { Pkcs11KeyProvider }] = await Promise.all([import('../ca/pkcs11/index.js'), import('../ca/pkcs11-key-provider.js')]);
  const pin = readPkcs11PinFile(p.pinFile);
  const token: Pkcs11Token = await openPkcs11Token({ module: p.module, token: p.token, pin, warn });
  let probe: NodeJS.Timeout | undefined;
  try {
    const provider = new Pkcs11KeyProvider({
      dir: o.dir,
      token,
      intermediateKey: p.intermediateKey,
      rootKey: p.rootKey,
      rootFiles: fileKeyProvider({ dir: o.dir, ...(o.keyPassphrase ? { keyPassphrase: o.keyPassphrase } : {}), ...(o.crypto ? { crypto: o.crypto } : {}) }),
    });
    await provider.preflight(o.keyAlgorithm ?? CA_DEFAULTS.keyAlgorithm);
    return {
      options: { ...o, keyProvider: provider },
      watch(onProbeError) {
        probe = setInterval(() => {
          token.probe().catch((e: unknown) => onProbeError((e as Error).message));
        }, PROBE_INTERVAL_MS);
        probe.unref();
      },
      async close() {
        clearInterval(probe);
        await token.close();
      },
    };
  } catch (e) {
    await token.close();
    throw e;
  }
}

/** Runs `fn` with the CA options and keys of the config, closing the token after it. */
export async function withCaKeys<T>(config: Config, o: CaOptions, fn: (options: CaOptions) => Promise<T>): Promise<T> {
  const source = await openCaKeySource(config, o, (line) => process.stderr.write(`certmint: ${line}\n`));
  try {
    return await fn(source.options);
  } finally {
    await source.close();
  }
}
