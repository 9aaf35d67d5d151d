import { describe, expect, it } from 'vitest';
import {
  decide,
  kindOfSubject,
  type PolicyAction,
  type PolicyTarget,
  type Principal,
  parseScopes,
  type Role,
  ScopeSyntaxError,
} from '../../src/policy/index.js';

/** A principal as the edge would build it from a token. */
function principal(sub: string, roles: Role | Role[], scope: string, patient?: string): Principal {
  return {
    id: sub,
    kind: kindOfSubject(sub),
    roles: [roles].flat(),
    scopes: parseScopes(scope),
    ...(patient ? { patient } : {}),
    purposeOfUse: 'TREAT',
  };
}

const VITAL_SIGNS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
const LABORATORY = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';

const obsOf = (patient: string, categories: string[] = []): PolicyTarget => ({
  resourceType: 'Observation',
  id: `obs-${patient}`,
  patients: [patient],
  categories,
});
const patientRes = (id: string): PolicyTarget => ({ resourceType: 'Patient', id, patients: [id] });
const type = (resourceType: string): PolicyTarget => ({ resourceType });

const doctor = (scope: string, patient?: string) => principal('Practitioner/doc', 'physician', scope, patient);
const nurse = (scope: string) => principal('Practitioner/rn', 'nurse', scope);
const billing = (scope: string) => principal('Practitioner/billing', 'billing', scope);
const admin = (scope: string) => principal('Practitioner/admin', 'system-admin', scope);
const patientP = (scope: string) => principal('Patient/P', 'patient', scope, 'P');
const service = (scope: string) => principal('system', 'system', scope);
const privacyOfficer = (scope: string) => principal('Practitioner/po', 'privacy-officer', scope);
const auditor = (scope: string) => principal('Practitioner/aud', 'auditor', scope);
const auditEvents = type('AuditEvent');

type Case = [label: string, who: Principal, action: PolicyAction, target: PolicyTarget, expected: 'permit' | 'deny'];

const cases: Case[] = [
  // Role allow-list × scope (164.312(a)(1) · 170.315(d)(1)(ii)).
  ['physician with user/*.cruds deletes an Observation', doctor('user/*.cruds'), 'delete', obsOf('P'), 'permit'],
  ['physician with user/*.cruds deletes Observations (type level)', doctor('user/*.cruds'), 'delete', type('Observation'), 'permit'],
  ['physician with user/*.rs may not delete (scope lacks d)', doctor('user/*.rs'), 'delete', obsOf('P'), 'deny'],
  ['physician with user/Patient.rs may not read an Observation (scope type)', doctor('user/Patient.rs'), 'read', obsOf('P'), 'deny'],
  ['physician with no resource scope reads nothing', doctor('openid fhirUser'), 'read', obsOf('P'), 'deny'],
  ['nurse with user/*.cruds creates an Observation', nurse('user/*.cruds'), 'create', obsOf('P'), 'permit'],
  ['nurse with user/*.cruds may not delete an Observation (role allow-list)', nurse('user/*.cruds'), 'delete', obsOf('P'), 'deny'],
  ['nurse with user/*.cruds may not delete Observations (type level)', nurse('user/*.cruds'), 'delete', type('Observation'), 'deny'],
  ['164.312(a)(1) · 170.315(d)(1)(ii): billing with user/*.rs reads no Observation', billing('user/*.rs'), 'read', obsOf('P'), 'deny'],
  [
    '164.312(a)(1) · 170.315(d)(1)(ii): billing with user/*.rs searches no Observation',
    billing('user/*.rs'),
    'search',
    type('Observation'),
    'deny',
  ],
  [
    '164.312(a)(1) · 170.315(d)(1)(ii): billing with user/*.rs reads a Claim',
    billing('user/*.rs'),
    'read',
    { resourceType: 'Claim', id: 'c1', patients: ['P'] },
    'permit',
  ],
  ['164.312(a)(1) · 170.315(d)(1)(ii): billing with user/*.rs searches Claims', billing('user/*.rs'), 'search', type('Claim'), 'permit'],
  ['billing with user/*.rs may not create a Claim (scope lacks c)', billing('user/*.rs'), 'create', type('Claim'), 'deny'],
  [
    '164.312(a)(1) · 170.315(d)(1)(ii): system-admin with user/*.cruds reads no Observation',
    admin('user/*.cruds'),
    'read',
    obsOf('P'),
    'deny',
  ],
  [
    '164.312(a)(1) · 170.315(d)(1)(ii): system-admin with user/*.cruds reads no Patient',
    admin('user/*.cruds'),
    'read',
    patientRes('P'),
    'deny',
  ],
  [
    'system-admin with user/*.cruds reads an Organization',
    admin('user/*.cruds'),
    'read',
    { resourceType: 'Organization', id: 'org-1' },
    'permit',
  ],
  [
    'system-admin with user/*.cruds deletes an Organization',
    admin('user/*.cruds'),
    'delete',
    { resourceType: 'Organization', id: 'org-1' },
    'permit',
  ],
  ['a role-less principal reads nothing', principal('Practitioner/none', [], 'user/*.cruds'), 'read', obsOf('P'), 'deny'],

  // Patient compartment through patient/ scopes (164.312(a)(1) (compartment)).
  [
    '164.312(a)(1) (compartment): patient/Observation.rs with context P reads an Observation of P',
    doctor('patient/Observation.rs', 'P'),
    'read',
    obsOf('P'),
    'permit',
  ],
  [
    '164.312(a)(1) (compartment): patient/Observation.rs with context P reads no Observation of Q',
    doctor('patient/Observation.rs', 'P'),
    'read',
    obsOf('Q'),
    'deny',
  ],
  [
    '164.312(a)(1) (compartment): patient/Observation.rs reads no Observation outside any compartment',
    doctor('patient/Observation.rs', 'P'),
    'read',
    { resourceType: 'Observation', id: 'orphan', patients: [] },
    'deny',
  ],
  [
    'patient/Observation.rs with context P may not create for P (scope lacks c)',
    doctor('patient/Observation.rs', 'P'),
    'create',
    obsOf('P'),
    'deny',
  ],
  ['patient/Observation.rs without a patient context reads nothing', doctor('patient/Observation.rs'), 'read', obsOf('P'), 'deny'],
  ['patient/*.cruds with context P creates an Observation for P', doctor('patient/*.cruds', 'P'), 'create', obsOf('P'), 'permit'],
  [
    '164.312(a)(1) (compartment): patient/*.cruds with context P may not create an Observation for Q',
    doctor('patient/*.cruds', 'P'),
    'create',
    obsOf('Q'),
    'deny',
  ],
  [
    'patient/*.cruds with context P reads Patient P itself',
    doctor('patient/*.cruds', 'P'),
    'read',
    { resourceType: 'Patient', id: 'P' },
    'permit',
  ],
  [
    '164.312(a)(1) (compartment): patient/*.cruds with context P reads no Patient Q',
    doctor('patient/*.cruds', 'P'),
    'read',
    patientRes('Q'),
    'deny',
  ],

  // A Patient principal only ever reaches its own compartment, whatever its scopes.
  ['164.312(a)(1) (compartment): Patient/P with user/*.rs reads its own Observation', patientP('user/*.rs'), 'read', obsOf('P'), 'permit'],
  ['164.312(a)(1) (compartment): Patient/P with user/*.rs reads itself', patientP('user/*.rs'), 'read', patientRes('P'), 'permit'],
  [
    '164.312(a)(1) (compartment): Patient/P with user/*.rs never reads an Observation of Q',
    patientP('user/*.rs'),
    'read',
    obsOf('Q'),
    'deny',
  ],
  ['164.312(a)(1) (compartment): Patient/P with user/*.rs never reads Patient Q', patientP('user/*.rs'), 'read', patientRes('Q'), 'deny'],
  [
    '164.312(a)(1) (compartment): Patient/P with user/*.rs never vreads an Observation of Q',
    patientP('user/*.rs'),
    'vread',
    obsOf('Q'),
    'deny',
  ],
  ['164.312(a)(1) (compartment): Patient/P with patient/*.rs never reads Q', patientP('patient/*.rs'), 'read', obsOf('Q'), 'deny'],
  [
    'Patient/P with user/*.cruds may not write even its own record (role patient reads only)',
    patientP('user/*.cruds'),
    'update',
    obsOf('P'),
    'deny',
  ],
  [
    'Patient/P whose token names another patient context reaches nothing',
    principal('Patient/P', 'patient', 'user/*.rs', 'Q'),
    'read',
    obsOf('Q'),
    'deny',
  ],
  ['Patient/P without a patient context reaches nothing', principal('Patient/P', 'patient', 'user/*.rs'), 'read', obsOf('P'), 'deny'],

  // system/ scopes only for kind system; user/ scopes not for system or operator.
  ['system principal with system/*.cruds reads an Observation', service('system/*.cruds'), 'read', obsOf('P'), 'permit'],
  [
    'system principal with system/Observation.rs searches Observations',
    service('system/Observation.rs'),
    'search',
    type('Observation'),
    'permit',
  ],
  ['a user with system/*.cruds reads nothing', doctor('system/*.cruds'), 'read', obsOf('P'), 'deny'],
  ['a Patient principal with system/*.rs reads nothing, not even itself', patientP('system/*.rs'), 'read', patientRes('P'), 'deny'],
  ['a system principal with user/*.cruds reads nothing', service('user/*.cruds'), 'read', obsOf('P'), 'deny'],
  ['an operator with user/*.rs reads nothing', principal('operator:alice', 'physician', 'user/*.rs'), 'read', obsOf('P'), 'deny'],

  // SMART v1 scopes map to v2 permissions.
  ['v1 patient/*.read reads (r)', doctor('patient/*.read', 'P'), 'read', obsOf('P'), 'permit'],
  ['v1 patient/*.read searches (s)', doctor('patient/*.read', 'P'), 'search', type('Observation'), 'permit'],
  ['v1 patient/*.read does not create', doctor('patient/*.read', 'P'), 'create', obsOf('P'), 'deny'],
  ['v1 patient/*.read does not delete', doctor('patient/*.read', 'P'), 'delete', obsOf('P'), 'deny'],
  ['v1 patient/*.read stays in its compartment', doctor('patient/*.read', 'P'), 'read', obsOf('Q'), 'deny'],
  ['v1 user/*.write does not read', doctor('user/*.write'), 'read', obsOf('P'), 'deny'],
  ['v1 user/*.write updates', doctor('user/*.write'), 'update', obsOf('P'), 'permit'],

  // Granular scopes: only category is understood; anything else fails closed.
  [
    'granular category=vital-signs reads a vital-signs Observation',
    doctor(`patient/Observation.rs?category=${VITAL_SIGNS}`, 'P'),
    'read',
    obsOf('P', [VITAL_SIGNS, 'vital-signs']),
    'permit',
  ],
  [
    'granular category=vital-signs reads no laboratory Observation',
    doctor(`patient/Observation.rs?category=${VITAL_SIGNS}`, 'P'),
    'read',
    obsOf('P', [LABORATORY, 'laboratory']),
    'deny',
  ],
  [
    'granular category=vital-signs reads no uncategorised Observation',
    doctor(`patient/Observation.rs?category=${VITAL_SIGNS}`, 'P'),
    'read',
    obsOf('P'),
    'deny',
  ],
  [
    'granular category=vital-signs reads no vital-signs Observation of Q',
    doctor(`patient/Observation.rs?category=${VITAL_SIGNS}`, 'P'),
    'read',
    obsOf('Q', [VITAL_SIGNS]),
    'deny',
  ],
  [
    'granular category=vital-signs,laboratory reads a laboratory Observation',
    doctor(`patient/Observation.rs?category=${VITAL_SIGNS},${LABORATORY}`, 'P'),
    'read',
    obsOf('P', [LABORATORY]),
    'permit',
  ],
  [
    'granular restriction on code (unsupported) grants no read',
    doctor('patient/Observation.rs?code=http://loinc.org|8867-4', 'P'),
    'read',
    obsOf('P', [VITAL_SIGNS]),
    'deny',
  ],
  [
    'granular restriction on code (unsupported) grants no search',
    doctor('patient/Observation.rs?code=http://loinc.org|8867-4', 'P'),
    'search',
    type('Observation'),
    'deny',
  ],
  [
    'granular restriction with category and an unsupported parameter grants nothing',
    doctor(`patient/Observation.rs?category=${VITAL_SIGNS}&status=final`, 'P'),
    'read',
    obsOf('P', [VITAL_SIGNS]),
    'deny',
  ],
  // The audit log (AuditEvent) is reached only by roles that name it; a `*` grant never does.
  [
    'physician with user/*.cruds searches no AuditEvent (a * grant does not reach the log)',
    doctor('user/*.cruds'),
    'search',
    auditEvents,
    'deny',
  ],
  ['physician with user/*.cruds reads no AuditEvent', doctor('user/*.cruds'), 'read', { resourceType: 'AuditEvent', id: '1' }, 'deny'],
  ['patient with patient/*.rs reads no AuditEvent', patientP('patient/*.rs'), 'search', auditEvents, 'deny'],
  ['service with system/*.cruds creates no AuditEvent', service('system/*.cruds'), 'create', auditEvents, 'deny'],
  ['privacy officer with user/AuditEvent.crs searches the log', privacyOfficer('user/AuditEvent.crs'), 'search', auditEvents, 'permit'],
  [
    'privacy officer with user/AuditEvent.crs records a disclosure (create)',
    privacyOfficer('user/AuditEvent.crs'),
    'create',
    auditEvents,
    'permit',
  ],
  ['privacy officer may not update the log', privacyOfficer('user/*.cruds'), 'update', auditEvents, 'deny'],
  ['privacy officer may not delete from the log', privacyOfficer('user/*.cruds'), 'delete', auditEvents, 'deny'],
  [
    'privacy officer with user/Patient.rs may not search the log (scope type)',
    privacyOfficer('user/Patient.rs'),
    'search',
    auditEvents,
    'deny',
  ],
  ['privacy officer reads Patients', privacyOfficer('user/*.rs'), 'read', patientRes('P'), 'permit'],
  ['auditor with user/*.rs searches the log', auditor('user/*.rs'), 'search', auditEvents, 'permit'],
  ['auditor may not record a disclosure (read-only role)', auditor('user/*.cruds'), 'create', auditEvents, 'deny'],
  ['auditor reads no Patient', auditor('user/*.rs'), 'read', patientRes('P'), 'deny'],
];

describe('policy decide(principal, action, target)', () => {
  it.each(cases)('%s', (_label, who, action, target, expected) => {
    const decision = decide(who, action, target);
    expect(decision.effect).toBe(expected);
    expect(decision.reasons.length).toBeGreaterThan(0);
    for (const reason of decision.reasons) expect(reason.trim()).not.toBe('');
  });

  it('a permit names the role and the scope that granted it', () => {
    const decision = decide(doctor('patient/Observation.rs', 'P'), 'read', obsOf('P'));
    expect(decision.effect).toBe('permit');
    expect(decision.reasons.join(' ')).toContain('physician');
    expect(decision.reasons.join(' ')).toContain('patient/Observation.rs');
  });
});

describe('scope parsing', () => {
  it('maps v1 patient/*.read to r and s, and v1 user/*.write to c, u and d', () => {
    const [read] = parseScopes('patient/*.read').resourceScopes;
    expect([...(read?.permissions ?? [])].sort()).toEqual(['r', 's']);
    const [write] = parseScopes('user/*.write').resourceScopes;
    expect([...(write?.permissions ?? [])].sort()).toEqual(['c', 'd', 'u']);
  });

  it('keeps non-resource scopes as names that grant nothing', () => {
    const set = parseScopes('openid fhirUser launch/patient offline_access');
    expect(set.resourceScopes).toEqual([]);
    expect(set.other).toEqual(['openid', 'fhirUser', 'launch/patient', 'offline_access']);
  });

  it.each([
    'patient/Observation.',
    'patient/Observation',
    'user/observation.rs',
    'user/*.rsc',
    'user/*.x',
    'system/*.readwrite',
    'patient/Observation.rs?',
    'patient/*.cruds extra user/Patient.zz',
    'patient/*.rs!',
  ])('throws ScopeSyntaxError for the malformed scope %j', (scope) => {
    expect(() => parseScopes(scope)).toThrow(ScopeSyntaxError);
  });
});
