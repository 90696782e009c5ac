import { CaKeyUnavailableError, type CaSigningKey } from '../../src/ca/ca-key.js';
import { keyProviderOf, type CaOptions } from '../../src/ca/ca-files.js';
import type { CaKeyProvider, CaKeyState } from '../../src/ca/key-provider.js';

/**
 * A test double for the HSM, which is outside certmint: the CA's real file keys behind a device
 * that can be switched off. While off, every signature rejects with CaKeyUnavailableError (what a
 * lost token gives) and keyState() says why. `signing` alone models a token lost between a check
 * of its state and the next signature.
 */
export class SwitchableKeyDevice {
  /** Whether signatures go through. */
  signing = true;
  /** What keyState() reports. */
  reportsReady = true;
  readonly reason = 'the test HSM is switched off';
  readonly retryAfterSeconds = 7;
  /** Signatures made and refused, to show what went through the device. */
  signatures = 0;
  refusals = 0;

  switchOff(): void {
    this.signing = false;
    this.reportsReady = false;
  }

  switchOn(): void {
    this.signing = true;
    this.reportsReady = true;
  }

  /** For startTestAcmeApp's keyProvider: the CA directory's file keys, behind this device. */
  provider(ca: CaOptions): CaKeyProvider {
    const files = keyProviderOf(ca);
    return {
      load: async (role, generation, certificate) => this.#behind(await files.load(role, generation, certificate)),
      create: async (role, generation, algorithm) => {
        const created = await files.create(role, generation, algorithm);
        return { key: this.#behind(created.key), files: created.files };
      },
      keyState: (): CaKeyState =>
        this.reportsReady ? { ready: true } : { ready: false, reason: this.reason, retryAfterSeconds: this.retryAfterSeconds },
    };
  }

  #behind(key: CaSigningKey): CaSigningKey {
    return {
      spec: key.spec,
      spki: key.spki,
      description: `switchable test device (${key.description})`,
      sign: (data) => {
        if (!this.signing) {
          this.refusals++;
          return Promise.reject(new CaKeyUnavailableError(this.reason, this.retryAfterSeconds));
        }
        this.signatures++;
        return key.sign(data);
      },
    };
  }
}
