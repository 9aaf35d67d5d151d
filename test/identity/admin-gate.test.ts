import { describe, expect, it } from 'vitest';
import { adminRefusal } from '../../src/identity/index.js';
import { type Principal, parseScopes, type Role } from '../../src/policy/index.js';

const NOW = new Date('2026-11-30T12:00:00Z');
const WINDOW = 300;

function principal(roles: Role[], session?: { stepUpSecondsAgo?: number }): Principal {
  return {
    id: 'Practitioner/x',
    kind: 'user',
    roles,
    scopes: parseScopes('user/*.cruds'),
    purposeOfUse: 'TREAT',
    ...(session
      ? {
          session: {
            handle: 'h',
            ...(session.stepUpSecondsAgo !== undefined
              ? { stepUp: { at: new Date(NOW.getTime() - session.stepUpSecondsAgo * 1000), method: 'totp' as const } }
              : {}),
          },
        }
      : {}),
  };
}

describe('the admin API gate', () => {
  it.each<[string, Principal, string | undefined, string | undefined]>([
    ['system-admin, session stepped up 10 s ago', principal(['system-admin'], { stepUpSecondsAgo: 10 }), undefined, undefined],
    [
      'system-admin, session stepped up at the window edge',
      principal(['system-admin'], { stepUpSecondsAgo: WINDOW }),
      undefined,
      undefined,
    ],
    [
      'system-admin, step-up one second stale',
      principal(['system-admin'], { stepUpSecondsAgo: WINDOW + 1 }),
      'WARD_STEP_UP_REQUIRED',
      'stale',
    ],
    ['system-admin, step-up from the future', principal(['system-admin'], { stepUpSecondsAgo: -5 }), 'WARD_STEP_UP_REQUIRED', 'stale'],
    ['system-admin, session never stepped up', principal(['system-admin'], {}), 'WARD_STEP_UP_REQUIRED', 'required'],
    ['system-admin bearer token', principal(['system-admin']), 'WARD_STEP_UP_UNAVAILABLE', 'unavailable'],
    ['physician, stepped up', principal(['physician'], { stepUpSecondsAgo: 10 }), 'WARD_POLICY_DENIED', undefined],
    ['privacy officer, stepped up', principal(['privacy-officer'], { stepUpSecondsAgo: 10 }), 'WARD_POLICY_DENIED', undefined],
    [
      'system-admin with physician, stepped up',
      principal(['system-admin', 'physician'], { stepUpSecondsAgo: 10 }),
      'WARD_POLICY_DENIED',
      undefined,
    ],
  ])('[NPRM] 164.312(a)(2)(ii) · ADR 0014: %s → %s', (_name, p, code, stepUp) => {
    const refusal = adminRefusal(p, NOW, WINDOW);
    expect(refusal?.error.code).toBe(code);
    expect(refusal?.detail.stepUp).toBe(stepUp);
  });

  it('[NPRM] 164.312(a)(2)(ii): an operator or service principal is refused whatever its session', () => {
    expect(adminRefusal({ ...principal(['system-admin'], { stepUpSecondsAgo: 1 }), kind: 'system' }, NOW, WINDOW)?.error.code).toBe(
      'WARD_POLICY_DENIED',
    );
  });
});
