import { describe, expect, it } from 'vitest';
import { ACCESS_POLICY, checkPolicy, decide, type Role, separationRefusal } from '../../src/policy/index.js';
import { person } from './policy-fixtures.js';

describe('separation of duties', () => {
  it.each<[Role[], string | undefined]>([
    [['system-admin'], undefined],
    [['physician', 'nurse'], undefined],
    [['billing', 'front-desk'], undefined],
    [['physician', 'system-admin'], 'clinical-and-administrative'],
    [['system-admin', 'lab-technician'], 'clinical-and-administrative'],
    [['system-admin', 'billing'], 'administrative-and-other'],
    [['auditor', 'system-admin'], 'administrative-and-other'],
  ])('[NPRM] 164.312(a)(2)(ii) (proposed): %j → %s', (roles, expected) => {
    expect(separationRefusal(roles)).toBe(expected);
  });

  it.each<[Role[], string | undefined]>([
    [['purge'], undefined],
    [['purge', 'purge'], undefined],
    [['purge', 'physician'], 'purge-and-other'],
    [['system', 'purge'], 'purge-and-other'],
    [['purge', 'system-admin'], 'purge-and-other'],
  ])('164.312(c)(1): the purge role is held alone: %j → %s', (roles, expected) => {
    expect(separationRefusal(roles)).toBe(expected);
  });
});

describe('164.312(c)(1): the purge role in the policy', () => {
  const target = { resourceType: 'Observation', id: 'o1', patients: ['P'] };
  const system = (roles: Role[], scope = 'system/*.cruds') => person('system', roles, scope);

  it('164.312(c)(1): only the purge role is permitted a purge; every other role, system and system-admin included, is denied', () => {
    expect(decide(system(['purge'], 'system/*.d'), 'purge', target).effect).toBe('permit');
    for (const role of Object.keys(ACCESS_POLICY) as Role[]) {
      if (role === 'purge') continue;
      expect(decide(system([role]), 'purge', target).effect, role).toBe('deny');
      expect(decide(person('Practitioner/x', role), 'purge', target).effect, role).toBe('deny');
    }
  });

  it('164.312(c)(1): the purge role is granted nothing else: it reads, searches, writes and exports nothing', () => {
    const purger = system(['purge'], 'system/*.cruds');
    for (const action of ['read', 'vread', 'search', 'history-instance', 'create', 'update', 'patch', 'delete', 'export'] as const) {
      expect(decide(purger, action, target).effect, action).toBe('deny');
      expect(decide(purger, action, { resourceType: 'Observation' }).effect, action).toBe('deny');
    }
  });

  it('164.312(c)(1): a principal holding purge beside a clinical role is denied at decision, whatever it asks', () => {
    const both = system(['purge', 'physician'], 'system/*.cruds');
    for (const action of ['purge', 'read', 'search'] as const) {
      const decision = decide(both, action, target);
      expect(decision.effect, action).toBe('deny');
      expect(decision.reasons.join(' ')).toContain('separation/purge');
    }
  });

  it('164.312(c)(1): the policy refuses to load a purge grant on any other role, or beside other actions', () => {
    const withGrant = (role: Role, actions: string[]) => ({
      ...ACCESS_POLICY,
      [role]: { ...ACCESS_POLICY[role], grants: [{ id: `grant/${role}/x`, types: '*', actions }] },
    });
    expect(() => checkPolicy(withGrant('system', ['purge']) as never)).toThrow(/grants purge to a role other than purge/);
    expect(() => checkPolicy(withGrant('purge', ['purge', 'read']) as never)).toThrow(/beside other actions/);
  });
});
