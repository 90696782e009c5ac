import { describe, expectTypeOf, it } from 'vitest';
import type { CaCertificates, CertificateAuthority } from '../ca/types.js';
import type { CertificateLedger, LedgerReader } from '../ledger/ledger.js';
import type { RegistrationAuthority } from '../ra/registration-authority.js';
import type { AcmeServerOptions } from './app.js';
import type { AcmeLedger, RouteContext } from './context.js';

// Type-level: these hold or `npm run typecheck` (CI) fails; at run time the assertions do nothing.
type LedgerWrites = Exclude<keyof CertificateLedger, keyof LedgerReader>;
type Signing = Exclude<keyof CertificateAuthority, keyof CaCertificates>;

describe('acme/ holds read-only views of the ledger, the CA and ra/', () => {
  it('the ledger it is given writes nothing but nonces and the readiness probe', () => {
    expectTypeOf<Extract<keyof AcmeServerOptions['ledger'], LedgerWrites>>().toEqualTypeOf<'nonces' | 'checkWritable'>();
    expectTypeOf<AcmeLedger['nonces']>().not.toHaveProperty('purge');
    // Every read stays available.
    expectTypeOf<AcmeLedger>().toExtend<LedgerReader>();
  });

  it('the CA it is given publishes certificates and cannot sign', () => {
    expectTypeOf<Extract<keyof AcmeServerOptions['ca'], Signing>>().toEqualTypeOf<never>();
    expectTypeOf<AcmeServerOptions['ca']>().toHaveProperty('rootsPem');
  });

  it('routes reach ra/ use cases, never ra/ deps (the whole ledger and CA)', () => {
    expectTypeOf<RouteContext['ra']>().not.toHaveProperty('deps');
    expectTypeOf<AcmeServerOptions['ra']>().not.toHaveProperty('deps');
    expectTypeOf<RegistrationAuthority>().toExtend<RouteContext['ra']>();
  });
});
