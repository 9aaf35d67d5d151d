import { describe, expect, it } from 'vitest';
import { decide, type PolicyAction, type PolicyTarget, type RelationshipFact, type Role } from '../../src/policy/index.js';
import { breakGlass, denyActor, facts, person, sensitivity } from './policy-fixtures.js';

/**
 * The policy table of issue 6: role × resource type × action × relationship × label × consent ×
 * break-glass → permit/deny and mask. The expectations below are written from the words
 * and ADR 0009, not computed by the code under test.
 */

type Relationship = 'none' | 'care-team' | 'encounter';
type Label = 'none' | 'PSY' | 'SUD' | 'HIV';
type TableAction = Extract<PolicyAction, 'read' | 'update' | 'delete'>;
type TableType = 'Observation' | 'Encounter' | 'Claim' | 'Patient';

const ROLES = ['physician', 'nurse', 'front-desk', 'billing', 'system-admin'] as const satisfies readonly Role[];
const TYPES: readonly TableType[] = ['Observation', 'Encounter', 'Claim', 'Patient'];
const ACTIONS: readonly TableAction[] = ['read', 'update', 'delete'];
const RELATIONSHIPS: readonly Relationship[] = ['none', 'care-team', 'encounter'];
const LABELS: readonly Label[] = ['none', 'PSY', 'SUD', 'HIV'];

// What each role may do, type by type (issue 6 §1).
const MAY: Record<(typeof ROLES)[number], Record<TableType, readonly TableAction[]>> = {
  // Physicians: everything, delete included.
  physician: {
    Observation: ['read', 'update', 'delete'],
    Encounter: ['read', 'update', 'delete'],
    Claim: ['read', 'update', 'delete'],
    Patient: ['read', 'update', 'delete'],
  },
  // Nurses: vitals, care context and the patient, never delete, never billing.
  nurse: { Observation: ['read', 'update'], Encounter: ['read', 'update'], Claim: [], Patient: ['read', 'update'] },
  // Front desk: demographics, no clinical resources.
  'front-desk': { Observation: [], Encounter: [], Claim: [], Patient: ['read', 'update'] },
  // Billing: claims; Encounter and Patient read-only and masked; no results.
  billing: { Observation: [], Encounter: ['read'], Claim: ['read', 'update'], Patient: ['read'] },
  // Separation of duties: no clinical PHI at all.
  'system-admin': { Observation: [], Encounter: [], Claim: [], Patient: [] },
};
// Clinical roles need a relationship and may use break-glass.
const CLINICAL: ReadonlySet<string> = new Set(['physician', 'nurse']);
// Restricted labels a role may see without consent or break-glass; Part 2 (SUD) needs consent for everyone.
const SEES: Record<(typeof ROLES)[number], readonly Label[]> = {
  physician: ['PSY', 'HIV'],
  nurse: ['HIV'],
  'front-desk': [],
  billing: [],
  'system-admin': [],
};
// Minimum necessary: billing sees Encounter and Patient only in part.
const MASKED: Record<string, readonly TableType[]> = { billing: ['Encounter', 'Patient'] };

interface Row {
  role: (typeof ROLES)[number];
  type: TableType;
  action: TableAction;
  relationship: Relationship;
  label: Label;
  consentDeniesActor: boolean;
  breakGlass: boolean;
}

interface Expected {
  effect: 'permit' | 'deny';
  masked: boolean;
  breakGlass: boolean;
  /** The rule family a denial names. */
  because?: string;
}

function expected(r: Row): Expected {
  if (!MAY[r.role][r.type].includes(r.action)) return { effect: 'deny', masked: false, breakGlass: false, because: 'default-deny' };
  const lifted: string[] = [];
  if (CLINICAL.has(r.role) && r.relationship === 'none') lifted.push('relationship');
  if (r.label !== 'none' && !SEES[r.role].includes(r.label)) lifted.push('label');
  if (r.consentDeniesActor) lifted.push('consent');
  const masked = (MASKED[r.role] ?? []).includes(r.type) && r.action === 'read';
  if (lifted.length === 0) return { effect: 'permit', masked, breakGlass: false };
  if (CLINICAL.has(r.role) && r.breakGlass) return { effect: 'permit', masked, breakGlass: true };
  return { effect: 'deny', masked: false, breakGlass: false, because: lifted[0] as string };
}

/** The COMPLIANCE.md rows a case checks, for its name. */
function rows(r: Row, e: Expected): string {
  const ids = ['164.312(a)(1) · 170.315(d)(1)(ii)'];
  if (e.masked || (MASKED[r.role] ?? []).includes(r.type)) ids.push('164.502(b) · 164.514(d)');
  if (r.label === 'SUD') ids.push('42 CFR Part 2 §2.12–2.13 (labels)');
  if (r.breakGlass) ids.push('164.312(a)(2)(ii) · 170.315(d)(6)');
  return ids.join(' + ');
}

const LABEL_CODES: Record<Exclude<Label, 'none'>, string> = { PSY: 'PSY', SUD: 'SUD', HIV: 'HIV' };

const cases: [string, Row][] = [];
for (const role of ROLES)
  for (const type of TYPES)
    for (const action of ACTIONS)
      for (const relationship of RELATIONSHIPS)
        for (const label of LABELS)
          for (const consentDeniesActor of [false, true])
            for (const bg of [false, true]) {
              const row: Row = { role, type, action, relationship, label, consentDeniesActor, breakGlass: bg };
              const e = expected(row);
              const name = `${rows(row, e)}: ${role} ${action} ${type}, relationship ${relationship}, label ${label}, consent ${consentDeniesActor ? 'denies actor' : 'none'}, break-glass ${bg ? 'yes' : 'no'} → ${e.effect}${e.masked ? ' masked' : ''}${e.breakGlass ? ' (break-glass)' : ''}`;
              cases.push([name, row]);
            }

const ACTOR = 'Practitioner/actor';

describe('policy table: role × type × action × relationship × label × consent × break-glass', () => {
  it('has at least 300 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(300);
  });

  it.each(cases)('%s', (_name, r) => {
    const target: PolicyTarget = {
      resourceType: r.type,
      id: r.type === 'Patient' ? 'P' : 'res-1',
      patients: ['P'],
      security: r.label === 'none' ? [] : [sensitivity(LABEL_CODES[r.label])],
    };
    const relationships: RelationshipFact[] =
      r.relationship === 'none'
        ? []
        : [{ patient: 'P', kind: r.relationship, source: `${r.relationship === 'care-team' ? 'CareTeam' : 'Encounter'}/x` }];
    const decision = decide(
      person(ACTOR, r.role),
      r.action,
      target,
      facts({
        relationships,
        consents: r.consentDeniesActor ? [denyActor('c-deny', ACTOR)] : [],
        breakGlass: r.breakGlass ? [breakGlass(ACTOR)] : [],
      }),
    );
    const e = expected(r);
    expect(decision.effect).toBe(e.effect);
    const text = decision.reasons.join(' | ');
    if (decision.effect === 'permit') {
      expect(decision.obligations.some((o) => o.kind === 'mask')).toBe(e.masked);
      expect(decision.breakGlass !== undefined).toBe(e.breakGlass);
      if (e.breakGlass) expect(text).toContain('break-glass');
    } else {
      expect(text).toContain(e.because);
    }
  });
});
