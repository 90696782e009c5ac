import { describe, expect, it } from 'vitest';
import { defaultRenewalDueAt } from '../ledger/lineage.js';
import { suggestedWindow } from './renewal-info.js';

// The ledger records when a certificate becomes renewal-overdue (ledger/lineage.ts, in integer
// arithmetic, as migration 0014 back-fills it): the end of the ARI window this module suggests.
describe('the renewal-due time is the end of the default ARI window', () => {
  it('for lifetimes from seconds to years and notBefore at any millisecond', () => {
    const lifetimes = [1, 999, 1000, 7_777_777, 3_600_000, 86_400_000, 6 * 86_400_000, 90 * 86_400_000, 398 * 86_400_000];
    let seed = 22;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (const lifetime of lifetimes) {
      for (let i = 0; i < 200; i++) {
        const notBefore = new Date(1_700_000_000_000 + next() * 997 + (i % 1000));
        const notAfter = new Date(notBefore.getTime() + lifetime + (i % 7));
        const window = suggestedWindow({ notBefore, notAfter, revokedAt: undefined, renewEarly: undefined });
        expect(defaultRenewalDueAt(notBefore, notAfter)).toEqual(window.end);
      }
    }
  });
});
