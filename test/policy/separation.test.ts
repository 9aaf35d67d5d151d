import { describe, expect, it } from 'vitest';
import { type Role, separationRefusal } from '../../src/policy/index.js';

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
});
