import { describe, expect, it } from 'vitest';
import { decide, isNotesOnlyConsent, type PolicyTarget } from '../../src/policy/index.js';
import { actor, breakGlass, consent, facts, person, sensitivity } from './policy-fixtures.js';

const DOC = 'Practitioner/doc';
const doctor = person(DOC, 'physician');
const careTeam = { relationships: [{ patient: 'P', kind: 'care-team' as const }] };
const target = (codes: string[], authors?: string[]): PolicyTarget => ({
  resourceType: 'Observation',
  id: 'o1',
  patients: ['P'],
  security: [...codes.map(sensitivity), { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'V' }],
  ...(authors ? { authors } : {}),
});
const counselingNote = target(['ETH', 'PSYTHPN']);
const sudCondition: PolicyTarget = { ...target(['ETH']), security: [sensitivity('ETH')] };
/** A general consent for treatment, payment and operations (v3 PurposeOfUse codings). */
const TPO = ['TREAT', 'HPAYMT', 'HOPERAT'].map((code) => ({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code }));
const permit = (id: string, labels: string[], who = DOC) =>
  consent(id, { type: 'permit', actor: [actor(who)], purpose: TPO, securityLabel: labels.map(sensitivity) });

describe('42 CFR Part 2 §2.31(b) (SUD counseling notes)', () => {
  const general = permit('general', ['ETH']);
  const bundled = permit('bundled', ['ETH', 'PSYTHPN']);
  const nested = consent('nested', {
    type: 'deny',
    provision: [
      { type: 'permit', actor: [actor(DOC)], securityLabel: [sensitivity('ETH')] },
      { type: 'permit', actor: [actor(DOC)], securityLabel: [sensitivity('PSYTHPN')] },
    ],
  });
  const separate = permit('notes', ['PSYTHPN']);
  const cases: [string, object, 'permit' | 'deny'][] = [
    ['a general TPO consent naming the recipient and ETH', { consents: [general] }, 'deny'],
    ['one consent naming ETH and PSYTHPN together (combined)', { consents: [bundled] }, 'deny'],
    ['one consent whose provisions permit ETH and PSYTHPN separately (combined)', { consents: [nested] }, 'deny'],
    ['a general consent and a separate consent for notes alone', { consents: [general, separate] }, 'permit'],
    ['a separate consent for notes alone', { consents: [separate] }, 'permit'],
    ['a separate consent for notes naming someone else', { consents: [permit('other', ['PSYTHPN'], 'Practitioner/y')] }, 'deny'],
    ['break-glass and a general consent', { consents: [general], breakGlass: [breakGlass(DOC, 'P', { reason: 'ETREAT' })] }, 'deny'],
  ];
  it.each(cases)('42 CFR Part 2 §2.31(b) (SUD counseling notes): %s → %s', (_name, extra, effect) => {
    const d = decide(doctor, 'read', counselingNote, facts({ ...careTeam, ...extra }));
    expect(d.effect).toBe(effect);
    if (effect === 'deny') expect(d.reasons.join('\n')).toContain('label/sud-counseling-note');
  });

  it('42 CFR Part 2 §2.31(b) (SUD counseling notes): the refusal names the counseling-note rule, and break-glass cannot lift it', () => {
    const d = decide(doctor, 'read', counselingNote, facts({ ...careTeam, consents: [general], breakGlass: [breakGlass(DOC)] }));
    expect(d.effect).toBe('deny');
    expect(d.reasons.join('\n')).toContain('label/sud-counseling-note');
  });

  it('42 CFR Part 2 §2.31(b) (SUD counseling notes): the general consent still unlocks ordinary Part 2 data, and names itself', () => {
    const d = decide(doctor, 'read', sudCondition, facts({ ...careTeam, consents: [general] }));
    expect(d).toMatchObject({ effect: 'permit', part2Consents: [{ patient: 'P', consent: 'general' }] });
    // Under the separate consent the note is disclosed under that consent.
    expect(decide(doctor, 'read', counselingNote, facts({ ...careTeam, consents: [general, separate] }))).toMatchObject({
      part2Consents: [{ patient: 'P', consent: 'notes' }],
    });
  });

  it('42 CFR Part 2 §2.31(b) (SUD counseling notes): its originator may write and read it; naming oneself does not reach another’s note', () => {
    expect(decide(doctor, 'create', target(['ETH', 'PSYTHPN'], [DOC]), facts(careTeam)).effect).toBe('permit');
    expect(decide(doctor, 'read', target(['ETH', 'PSYTHPN'], ['Practitioner/counselor']), facts(careTeam)).effect).toBe('deny');
    // A patient is not a note's originator, whatever the note names.
    const self = person('Patient/P', 'patient', 'patient/*.rs', 'P');
    expect(decide(self, 'read', target(['ETH', 'PSYTHPN'], ['Patient/P']), facts()).effect).toBe('deny');
  });

  it('a consent is for notes alone only when every permit in it lists PSYTHPN and nothing else', () => {
    expect(isNotesOnlyConsent(separate)).toBe(true);
    expect(isNotesOnlyConsent(bundled)).toBe(false);
    expect(isNotesOnlyConsent(nested)).toBe(false);
    expect(isNotesOnlyConsent(consent('all', { type: 'permit', actor: [actor(DOC)] }))).toBe(false);
    expect(isNotesOnlyConsent(consent('deny-only', { type: 'deny', actor: [actor(DOC)] }))).toBe(false);
  });
});

describe('42 CFR Part 2 §2.24 (intermediaries)', () => {
  it('a consent naming an organization records it as the designation through which the member received Part 2 data', () => {
    const member = { ...person('Practitioner/hie-doc', 'physician'), organizations: ['Organization/hie'] };
    const viaOrg = permit('hie', ['ETH'], 'Organization/hie');
    const d = decide(
      member,
      'read',
      sudCondition,
      facts({ relationships: [{ patient: 'P', kind: 'care-team' }], consents: [viaOrg], memberOf: ['Organization/hie'] }),
    );
    expect(d).toMatchObject({ effect: 'permit', part2Consents: [{ patient: 'P', consent: 'hie', designation: 'Organization/hie' }] });
  });
});
