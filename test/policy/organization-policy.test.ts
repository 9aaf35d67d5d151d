import { describe, expect, it } from 'vitest';
import {
  configurationDecision,
  DEFAULT_POLICY,
  decide,
  effectivePolicy,
  explain,
  type PolicyTarget,
  validateOverride,
} from '../../src/policy/index.js';
import { breakGlass, facts, person, sensitivity } from './policy-fixtures.js';

const UNIT = 'Organization/unit-a';
const under = (document: unknown, version = 3) => effectivePolicy({ organization: UNIT, version, document });
const obs = (security?: ReturnType<typeof sensitivity>[], patient = 'P'): PolicyTarget => ({
  resourceType: 'Observation',
  id: 'o1',
  patients: [patient],
  ...(security ? { security } : {}),
});
const careTeam = { relationships: [{ patient: 'P', kind: 'care-team' as const }] };
const nurse = person('Practitioner/nurse', 'nurse');
const doctor = person('Practitioner/doc', 'physician');

/** [what the override tries, the document, the hard limit that refuses it]. */
const table: [string, unknown, string][] = [
  [
    'gives the system administrator Observation',
    { roles: { 'system-admin': { grant: [{ types: ['Observation'], actions: ['read'] }] } } },
    'limit/separation-of-duties',
  ],
  [
    'gives the system administrator Patient',
    { roles: { 'system-admin': { grant: [{ types: ['Patient'], actions: ['read'] }] } } },
    'limit/separation-of-duties',
  ],
  ['shows Part 2 (ETH) data to physicians', { roles: { physician: { showLabels: ['ETH'] } } }, 'limit/part-2'],
  ['shows SUD data to nurses', { roles: { nurse: { showLabels: ['SUD'] } } }, 'limit/part-2'],
  ['shows psychotherapy notes to physicians', { roles: { physician: { showLabels: ['PSYTHPN'] } } }, 'limit/psychotherapy-notes'],
  ['shows HIV data to front desk', { roles: { 'front-desk': { showLabels: ['HIV'] } } }, 'limit/labels-clinical-only'],
  [
    'gives front desk Observation',
    { roles: { 'front-desk': { grant: [{ types: ['Observation'], actions: ['read'] }] } } },
    'limit/administrative-role',
  ],
  [
    'gives billing DiagnosticReport',
    { roles: { billing: { grant: [{ types: ['DiagnosticReport'], actions: ['read'] }] } } },
    'limit/administrative-role',
  ],
  ['gives nurses every type', { roles: { nurse: { grant: [{ types: '*', actions: ['read'] }] } } }, 'limit/explicit-types'],
  ['gives nurses the audit log', { roles: { nurse: { grant: [{ types: ['AuditEvent'], actions: ['read'] }] } } }, 'limit/audit-log'],
  [
    'lets billing write the Patient it sees masked',
    { roles: { billing: { grant: [{ types: ['Patient'], actions: ['update'] }] } } },
    'limit/masked-read-only',
  ],
  [
    'unmasks Encounter.reasonCode for billing',
    { roles: { billing: { masks: { Encounter: ['status', 'reasonCode'] } } } },
    'limit/mask-only-tightens',
  ],
  ['narrows the privacy officer', { roles: { 'privacy-officer': { withhold: [{ types: '*', actions: ['read'] }] } } }, 'limit/fixed-role'],
  [
    'changes the patient’s right of access',
    { roles: { patient: { withhold: [{ types: ['Observation'], actions: ['read'] }] } } },
    'limit/fixed-role',
  ],
  ['widens the auditor', { roles: { auditor: { grant: [{ types: ['Patient'], actions: ['read'] }] } } }, 'limit/fixed-role'],
  // 164.312(c)(1): purge is no data action an organization can hand out, and the purge role is the same everywhere.
  ['gives physicians purge', { roles: { physician: { grant: [{ types: ['Observation'], actions: ['purge'] }] } } }, 'limit/shape'],
  ['widens the purge role', { roles: { purge: { grant: [{ types: ['Patient'], actions: ['read'] }] } } }, 'limit/fixed-role'],
  ['lifts the relationship requirement', { roles: { physician: { clinical: false } } }, 'limit/unknown-key'],
  ['sets an unknown top-level key', { breakGlass: 'disabled', superuser: true }, 'limit/unknown-key'],
  ['names a role Ward does not have', { roles: { wizard: {} } }, 'limit/unknown-role'],
  ['names an unknown resource type', { roles: { nurse: { withhold: [{ types: ['Spell'], actions: ['read'] }] } } }, 'limit/unknown-type'],
  ['names an unknown action', { roles: { nurse: { withhold: [{ types: ['Observation'], actions: ['purge'] }] } } }, 'limit/shape'],
  ['sets break-glass to something else', { breakGlass: 'sometimes' }, 'limit/shape'],
  ['is not an object', ['roles'], 'limit/shape'],
];

describe('organization overrides: the hard limits', () => {
  const attacks = table.map(([what, document, rule]) => [what, rule, document] as const);
  it.each(attacks)('164.312(a)(1) · 164.502(b): an override that %s is refused by %s', (_what, rule, document) => {
    const checked = validateOverride(document);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.issues.map((i) => i.rule)).toContain(rule);
  });

  it('an issue names where and which limit, never echoes a value', () => {
    const checked = validateOverride({
      roles: { 'system-admin': { grant: [{ types: ['Observation'], actions: ['read'] }] } },
      x: 'Jane Doe MRN 123',
    });
    expect(checked.ok).toBe(false);
    expect(JSON.stringify(checked)).not.toContain('Jane Doe');
  });

  it('accepts narrowing any overridable role, masks that keep less, and widening inside the ceilings', () => {
    const document = {
      breakGlass: 'disabled',
      roles: {
        'system-admin': { withhold: [{ types: '*', actions: ['delete'] }] },
        nurse: { withhold: [{ types: ['MedicationRequest'], actions: ['create', 'update'] }], hideLabels: ['HIV'], showLabels: ['MH'] },
        billing: { masks: { Encounter: ['status', 'class', 'period'] }, grant: [{ types: ['Appointment'], actions: ['read', 'search'] }] },
        'medical-assistant': {
          grant: [{ types: ['Immunization'], actions: ['read'] }],
          masks: { Patient: ['name', 'birthDate'] },
          withhold: [{ types: ['Patient'], actions: ['create', 'update'] }],
        },
      },
    };
    expect(validateOverride(document).ok).toBe(true);
  });

  it('a stored override that breaks a limit (written around the API) grants nothing, and its version says so', () => {
    const broken = under({ roles: { 'system-admin': { grant: [{ types: ['Observation'], actions: ['read'] }] } } });
    expect(broken.version).toBe('ward-policy-4+Organization/unit-a@v3!invalid');
    const admin = person('Practitioner/adm', 'system-admin');
    expect(decide(admin, 'read', { resourceType: 'Observation' }, facts({ policies: [broken] })).effect).toBe('deny');
    expect(decide(admin, 'read', { resourceType: 'Organization' }, facts({ policies: [broken] })).effect).toBe('deny');
  });
});

describe('organization overrides: decisions under them', () => {
  it('164.312(a)(1): a withheld action is denied at type level, and the reason names the override version', () => {
    const policy = under({ roles: { nurse: { withhold: [{ types: ['Observation'], actions: ['create', 'update'] }] } } });
    const d = decide(nurse, 'create', { resourceType: 'Observation' }, facts({ policies: [policy] }));
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toMatch(/^ward-policy-4\+Organization\/unit-a@v3\/default-deny:/);
    // Reading is untouched, and says which policy decided.
    const read = decide(nurse, 'read', obs(), facts({ ...careTeam, policies: [policy] }));
    expect(read.effect).toBe('permit');
    expect(read.reasons[0]).toMatch(/^ward-policy-4\+Organization\/unit-a@v3\/grant\/nurse\/nursing/);
    // Without the override, the default decides.
    expect(decide(nurse, 'create', { resourceType: 'Observation' }, facts()).effect).toBe('permit');
  });

  it('164.312(a)(1): a widening grants the named type, and the grant id names the override', () => {
    const policy = under({ roles: { 'front-desk': { grant: [{ types: ['Account'], actions: ['read'] }] } } });
    const desk = person('Practitioner/fd', 'front-desk');
    expect(decide(desk, 'read', { resourceType: 'Account' }, facts()).effect).toBe('deny');
    const d = decide(desk, 'read', { resourceType: 'Account', id: 'a1' }, facts({ policies: [policy] }));
    expect(d.effect).toBe('permit');
    expect(d.reasons.join('\n')).toContain('override/ward-policy-4+Organization/unit-a@v3/front-desk/grant[0]');
  });

  it('164.502(b): an added mask is an obligation on reads, naming the override', () => {
    const policy = under({
      roles: {
        nurse: { masks: { Patient: ['name', 'birthDate'] }, withhold: [{ types: ['Patient'], actions: ['create', 'update', 'delete'] }] },
      },
    });
    const d = decide(nurse, 'read', { resourceType: 'Patient', id: 'P', patients: ['P'] }, facts({ ...careTeam, policies: [policy] }));
    expect(d.effect).toBe('permit');
    if (d.effect === 'permit') expect(d.obligations).toContainEqual(expect.objectContaining({ kind: 'mask', keep: ['name', 'birthDate'] }));
  });

  it('labels: a hidden class is refused, a shown one (within the ceiling) is seen', () => {
    const policy = under({ roles: { nurse: { hideLabels: ['HIV'], showLabels: ['MH'] } } });
    const f = facts({ ...careTeam, policies: [policy] });
    expect(decide(nurse, 'read', obs([sensitivity('HIV')]), facts(careTeam)).effect).toBe('permit');
    expect(decide(nurse, 'read', obs([sensitivity('HIV')]), f).effect).toBe('deny');
    expect(decide(nurse, 'read', obs([sensitivity('MH')]), facts(careTeam)).effect).toBe('deny');
    expect(decide(nurse, 'read', obs([sensitivity('MH')]), f).effect).toBe('permit');
  });

  it('164.312(a)(2)(ii): an organization that disabled break-glass lifts nothing, even with a grant in force', () => {
    const grant = { relationships: [], breakGlass: [breakGlass('Practitioner/doc')] };
    expect(decide(doctor, 'read', obs(), facts(grant)).effect).toBe('permit');
    const d = decide(doctor, 'read', obs(), facts({ ...grant, policies: [under({ breakGlass: 'disabled' })] }));
    expect(d.effect).toBe('deny');
    expect(d.reasons.join('\n')).toMatch(/@v3\/break-glass\/disabled/);
  });

  it('a member of two organizations with overrides is held to both (deny wins), and explain names both versions', () => {
    const a = under({ roles: { physician: { withhold: [{ types: ['Observation'], actions: ['delete'] }] } } }, 1);
    const b = effectivePolicy({ organization: 'Organization/unit-b', version: 7, document: {} });
    expect(decide(doctor, 'delete', obs(), facts({ ...careTeam, policies: [b] })).effect).toBe('permit');
    expect(decide(doctor, 'delete', obs(), facts({ ...careTeam, policies: [b, a] })).effect).toBe('deny');
    const e = explain(doctor, 'read', obs(), facts({ ...careTeam, policies: [a, b] }));
    expect(e.decision.effect).toBe('permit');
    expect(e.policyVersion).toBe('ward-policy-4+Organization/unit-a@v1 ward-policy-4+Organization/unit-b@v7');
    expect(explain(doctor, 'read', obs(), facts(careTeam)).policyVersion).toBe(DEFAULT_POLICY.version);
  });
});

describe('who manages configuration (separation of duties)', () => {
  const cases: [string, ReturnType<typeof person>, 'read' | 'change', 'permit' | 'deny'][] = [
    ['a system administrator changes', person('Practitioner/adm', 'system-admin'), 'change', 'permit'],
    ['a system administrator reads', person('Practitioner/adm', 'system-admin'), 'read', 'permit'],
    ['a privacy officer reads', person('Practitioner/po', 'privacy-officer'), 'read', 'permit'],
    ['a privacy officer changes', person('Practitioner/po', 'privacy-officer'), 'change', 'deny'],
    ['a physician changes', doctor, 'change', 'deny'],
    ['a physician reads', doctor, 'read', 'deny'],
    ['a token mixing system-admin and physician changes', person('Practitioner/x', ['system-admin', 'physician']), 'change', 'deny'],
    ['the system service changes', person('system', 'system', 'system/*.cruds'), 'change', 'deny'],
    ['a patient reads', person('Patient/P', 'patient', 'patient/*.rs', 'P'), 'read', 'deny'],
  ];
  it.each(cases)('[NPRM] 164.312(a)(2)(ii): %s configuration → %s', (_what, principal, action, effect) => {
    expect(configurationDecision(principal, action).effect).toBe(effect);
  });
});
