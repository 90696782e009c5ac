import { describe, expect, it } from 'vitest';
import { ageText, when } from './format.js';

describe('console formats', () => {
  it('ages read as seconds, minutes, hours, then days', () => {
    expect([0, 119, 120, 7199, 7200, 172_799, 172_800].map(ageText)).toEqual(['0 s', '119 s', '2 min', '119 min', '2 h', '47 h', '2 d']);
  });
  it('instants read in UTC, with the exact one in datetime', () => {
    expect(when('2026-12-06T16:52:44.393Z').text).toBe('<time datetime="2026-12-06T16:52:44.393Z">2026-12-06 16:52:44 UTC</time>');
    expect(when('2026-12-06T16:52:44Z').text).toBe('<time datetime="2026-12-06T16:52:44Z">2026-12-06 16:52:44 UTC</time>');
  });
});
