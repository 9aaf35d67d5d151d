import { describe, expect, it } from 'vitest';
import { factorPlan } from '../../src/identity/index.js';

describe('the SMART login page after a right password (170.315(d)(13))', () => {
  it.each([
    ['a patient', 'patient', { totp: false, webauthn: false }, { kind: 'complete', amr: ['pwd'] }],
    ['a patient who somehow has factors', 'patient', { totp: true, webauthn: true }, { kind: 'complete', amr: ['pwd'] }],
    [
      'a workforce account with no factor',
      'workforce',
      { totp: false, webauthn: false },
      { kind: 'refused', reason: 'second-factor-not-enrolled' },
    ],
    [
      'a workforce account with TOTP',
      'workforce',
      { totp: true, webauthn: false },
      { kind: 'ask', factors: { totp: true, webauthn: false } },
    ],
    [
      'a workforce account with only WebAuthn',
      'workforce',
      { totp: false, webauthn: true },
      { kind: 'ask', factors: { totp: false, webauthn: true } },
    ],
    [
      'a workforce account with both',
      'workforce',
      { totp: true, webauthn: true },
      { kind: 'ask', factors: { totp: true, webauthn: true } },
    ],
  ] as const)('%s', (_name, kind, enrolled, plan) => {
    expect(factorPlan({ kind }, enrolled)).toEqual(plan);
  });
});
