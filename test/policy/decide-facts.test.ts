import { describe, expect, it } from 'vitest';
import { decide, explain, type PolicyTarget } from '../../src/policy/index.js';
import { actor, breakGlass, consent, denyActor, facts, NOW, person, sensitivity } from './policy-fixtures.js';

const DOC = 'Practitioner/doc';
const doctor = person(DOC, 'physician');
const obs = (security?: ReturnType<typeof sensitivity>[], patient = 'P'): PolicyTarget => ({
  resourceType: 'Observation',
  id: 'o1',
  patients: [patient],
  ...(security ? { security } : {}),
});
const careTeam = { relationships: [{ patient: 'P', kind: 'care-team' as const, source: 'CareTeam/ct1' }] };

describe('without facts the decision is what it was (the vault supplies none yet)', () => {
  it('a physician with user/*.cruds reads any patient and any labelled resource', () => {
    expect(decide(doctor, 'read', obs()).effect).toBe('permit');
    expect(decide(doctor, 'read', obs(), { now: NOW }).effect).toBe('permit');
  });
  it('a relationship is required only once relationships are supplied (even empty)', () => {
    expect(decide(doctor, 'read', obs(), facts({ relationships: [] })).effect).toBe('deny');
    expect(decide(doctor, 'read', obs(), facts(careTeam)).effect).toBe('permit');
  });
  it('a type-level query is not held to instance rules; each row is decided on its own', () => {
    expect(decide(doctor, 'search', { resourceType: 'Observation' }, facts({ relationships: [] })).effect).toBe('permit');
  });
});

describe('relationships', () => {
  it('an encounter or unit relationship counts like a care team, and the reason says which', () => {
    for (const kind of ['encounter', 'unit'] as const) {
      const d = decide(doctor, 'read', obs(), facts({ relationships: [{ patient: 'P', kind }] }));
      expect(d.effect).toBe('permit');
      expect(d.reasons.join(' ')).toContain(`relationship/${kind}`);
    }
  });
  it('a relationship to another patient does not count', () => {
    expect(decide(doctor, 'read', obs([], 'Q'), facts(careTeam)).effect).toBe('deny');
  });
  it('a resource in two compartments needs a relationship to both', () => {
    expect(decide(doctor, 'read', { resourceType: 'Observation', id: 'o', patients: ['P', 'Q'] }, facts(careTeam)).effect).toBe('deny');
  });
  it('system principals and non-clinical roles need none', () => {
    expect(decide(person('system', 'system', 'system/*.cruds'), 'read', obs(), facts({ relationships: [] })).effect).toBe('permit');
    expect(
      decide(person('Practitioner/b', 'billing'), 'read', { resourceType: 'Claim', id: 'c', patients: ['P'] }, facts({ relationships: [] }))
        .effect,
    ).toBe('permit');
  });
});

describe('42 CFR Part 2 §2.12–2.13 (labels)', () => {
  const sud = [sensitivity('ETH'), sensitivity('SUD')];
  it('42 CFR Part 2 §2.12–2.13 (labels): a physician on the care team is refused ETH-labelled data', () => {
    const d = decide(doctor, 'read', obs(sud), facts(careTeam));
    expect(d.effect).toBe('deny');
    expect(d.reasons.join(' ')).toContain('label/ETH');
  });
  it('42 CFR Part 2 §2.12–2.13 (labels): a consent naming the physician and ETH lets it through, and says so', () => {
    const part2 = consent('part2', {
      type: 'permit',
      provision: [{ type: 'permit', actor: [actor(DOC)], securityLabel: [sensitivity('ETH')] }],
    });
    const d = decide(doctor, 'read', obs(sud), facts({ ...careTeam, consents: [part2] }));
    expect(d.effect).toBe('permit');
    expect(d.reasons.join(' ')).toContain('ETH unlocked by patient consent');
  });
  it('a service (system role) sees labelled data; a patient sees their own, but not a psychotherapy note', () => {
    expect(decide(person('system', 'system', 'system/*.cruds'), 'read', obs(sud), facts()).effect).toBe('permit');
    const self = person('Patient/P', 'patient', 'patient/*.rs', 'P');
    expect(decide(self, 'read', obs(sud), facts()).effect).toBe('permit');
    expect(decide(self, 'read', obs([sensitivity('PSYTHPN')]), facts()).effect).toBe('deny');
  });
});

describe('164.312(a)(2)(ii) · 170.315(d)(6) break-glass', () => {
  const denied = facts({ relationships: [], consents: [denyActor('c1', DOC)] });
  it('164.312(a)(2)(ii) · 170.315(d)(6): a clinician with an active grant and a reason reads an otherwise denied chart, marked break-glass', () => {
    const d = decide(doctor, 'read', obs([sensitivity('SUD')]), { ...denied, breakGlass: [breakGlass(DOC)] });
    expect(d.effect).toBe('permit');
    if (d.effect !== 'permit') return;
    expect(d.breakGlass).toEqual({
      grants: ['bg-1'],
      overrides: ['relationship/required', 'consent/c1#provision.provision[0]', 'label/ETH'],
      reasonCodes: [],
    });
    expect(decide(doctor, 'read', obs(), { ...denied, breakGlass: [breakGlass(DOC, 'P', { reason: 'ETREAT' })] })).toMatchObject({
      breakGlass: { reasonCodes: ['ETREAT'] },
    });
    expect(d.reasons.join(' ')).not.toContain('unconscious');
  });
  it('164.312(a)(2)(ii) · 170.315(d)(6): a grant with no reason is refused', () => {
    expect(decide(doctor, 'read', obs(), { ...denied, breakGlass: [breakGlass(DOC, 'P', { reason: ' ' })] }).effect).toBe('deny');
  });
  it('164.312(a)(2)(ii) · 170.315(d)(6): the grant expires after its window and does not start early', () => {
    const grant = breakGlass(DOC);
    expect(decide(doctor, 'read', obs(), { ...denied, now: grant.end, breakGlass: [grant] }).effect).toBe('deny');
    expect(decide(doctor, 'read', obs(), { ...denied, now: new Date(grant.start.getTime() - 1), breakGlass: [grant] }).effect).toBe('deny');
  });
  it('164.312(a)(2)(ii) · 170.315(d)(6): a grant for another patient or another user does not apply', () => {
    expect(decide(doctor, 'read', obs(), { ...denied, breakGlass: [breakGlass(DOC, 'Q')] }).effect).toBe('deny');
    expect(decide(doctor, 'read', obs(), { ...denied, breakGlass: [breakGlass('Practitioner/other')] }).effect).toBe('deny');
  });
  it('164.312(a)(2)(ii) · 170.315(d)(6): a non-clinical role cannot break the glass', () => {
    const billing = person('Practitioner/b', 'billing');
    const claim = { resourceType: 'Claim', id: 'c', patients: ['P'] };
    expect(
      decide(billing, 'read', claim, facts({ consents: [denyActor('c1', 'Practitioner/b')], breakGlass: [breakGlass('Practitioner/b')] }))
        .effect,
    ).toBe('deny');
  });
  it('break-glass lifts neither the role allow-list nor the scope', () => {
    const nurse = person('Practitioner/rn', 'nurse');
    expect(decide(nurse, 'delete', obs(), facts({ breakGlass: [breakGlass('Practitioner/rn')] })).effect).toBe('deny');
    const narrow = person(DOC, 'physician', 'user/Patient.rs');
    expect(decide(narrow, 'read', obs(), facts({ breakGlass: [breakGlass(DOC)] })).effect).toBe('deny');
  });
  it('break-glass does not lift a psychotherapy note (164.508(a)(2))', () => {
    expect(decide(doctor, 'read', obs([sensitivity('PSYTHPN')]), facts({ ...careTeam, breakGlass: [breakGlass(DOC)] })).effect).toBe(
      'deny',
    );
  });
  it('no break-glass marker when the permit did not need it', () => {
    const d = decide(doctor, 'read', obs(), facts({ ...careTeam, breakGlass: [breakGlass(DOC)] }));
    expect(d.effect === 'permit' && d.breakGlass).toBe(undefined);
  });
});

describe('proxies', () => {
  const PROXY = 'RelatedPerson/mother';
  const proxy = person(PROXY, 'proxy', 'user/*.rs');
  const permits = consent('proxy-ok', { type: 'deny', provision: [{ type: 'permit', actor: [actor(PROXY)] }] });
  it('a proxy reaches a patient it is linked to whose consent names it', () => {
    expect(decide(proxy, 'read', obs(), facts({ proxyFor: ['P'], consents: [permits] })).effect).toBe('permit');
  });
  it('a proxy without a RelatedPerson link, or without consent, is refused', () => {
    expect(decide(proxy, 'read', obs([], 'Q'), facts({ proxyFor: ['P'], consents: [] })).effect).toBe('deny');
    expect(decide(proxy, 'read', obs(), facts({ proxyFor: ['P'], consents: [] })).effect).toBe('deny');
  });
  it('a proxy sees no restricted label, and break-glass does not help it', () => {
    const d = decide(
      proxy,
      'read',
      obs([sensitivity('HIV')]),
      facts({ proxyFor: ['P'], consents: [permits], breakGlass: [breakGlass(PROXY)] }),
    );
    expect(d.effect).toBe('deny');
  });
});

describe('explain', () => {
  it('returns the decision and the rule ids behind it, in order', () => {
    const e = explain(doctor, 'read', obs([sensitivity('HIV')]), facts(careTeam));
    expect(e.policyVersion).toBe('ward-policy-4');
    expect(e.decision.effect).toBe('permit');
    expect(e.reasons.map((r) => r.rule)).toEqual(['grant/physician/*', 'scope', 'relationship/care-team', 'label/HIV']);
    expect(e.decision.reasons).toEqual(e.reasons.map((r) => `ward-policy-4/${r.rule}: ${r.text}`));
  });
  it('explains a denial by the rule that refused', () => {
    const e = explain(person('Practitioner/adm', 'system-admin'), 'read', obs());
    expect(e.decision.effect).toBe('deny');
    expect(e.reasons).toEqual([{ rule: 'default-deny', text: 'no role of the principal allows Observation.read' }]);
  });
});
