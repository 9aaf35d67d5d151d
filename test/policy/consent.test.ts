import { describe, expect, it } from 'vitest';
import type { FhirResource } from '../../src/fhir/index.js';
import { type ConsentRequest, evaluateConsents } from '../../src/policy/index.js';
import { actor, consent, denyActor, NOW, sensitivity } from './policy-fixtures.js';

const request = (r: Partial<ConsentRequest> = {}): ConsentRequest => ({
  patient: 'P',
  actor: 'Practitioner/x',
  organizations: [],
  action: 'read',
  resourceType: 'Observation',
  resource: 'Observation/o1',
  labels: { confidentiality: 'N', sensitivity: [] },
  purposeOfUse: 'TREAT',
  now: NOW,
  ...r,
});
const RESOURCE_TYPES = 'http://hl7.org/fhir/resource-types';
const effect = (consents: FhirResource[], r: Partial<ConsentRequest> = {}) => evaluateConsents(consents, request(r)).effect;

describe('consent: who the patient denies', () => {
  it('denies a named practitioner and no one else', () => {
    const c = denyActor('c1', 'Practitioner/x');
    expect(effect([c])).toBe('deny');
    expect(effect([c], { actor: 'Practitioner/y' })).toBe('permit');
    expect(evaluateConsents([c], request()).reasons).toEqual(['consent/c1#provision.provision[0]: deny']);
  });

  it('denies every member of a named organization', () => {
    const c = denyActor('c1', 'Organization/clinic-b');
    expect(effect([c], { organizations: ['Organization/clinic-b'] })).toBe('deny');
    expect(effect([c], { organizations: ['Organization/clinic-a'] })).toBe('permit');
  });
});

describe('consent: what the patient restricts', () => {
  const denyPsy = consent('c2', { type: 'permit', provision: [{ type: 'deny', securityLabel: [sensitivity('PSY')] }] });
  it('restricts a category of data by security label, for everyone', () => {
    expect(effect([denyPsy], { labels: { confidentiality: 'R', sensitivity: ['PSY'] } })).toBe('deny');
    expect(effect([denyPsy], { labels: { confidentiality: 'N', sensitivity: [] } })).toBe('permit');
  });

  it('a restriction on ETH also covers SUD-labelled data (one Part 2 class)', () => {
    const denyEth = consent('c3', { type: 'deny', securityLabel: [sensitivity('ETH')] });
    expect(effect([denyEth], { labels: { confidentiality: 'R', sensitivity: ['SUD'] } })).toBe('deny');
  });

  it('restricts a resource type by class', () => {
    const c = consent('c4', { type: 'permit', provision: [{ type: 'deny', class: [{ system: RESOURCE_TYPES, code: 'Observation' }] }] });
    expect(effect([c])).toBe('deny');
    expect(effect([c], { resourceType: 'Condition', resource: 'Condition/c' })).toBe('permit');
  });

  it('restricts one named resource', () => {
    const c = consent('c5', {
      type: 'permit',
      provision: [{ type: 'deny', data: [{ meaning: 'instance', reference: { reference: 'Observation/o1' } }] }],
    });
    expect(effect([c])).toBe('deny');
    expect(effect([c], { resource: 'Observation/o2' })).toBe('permit');
  });

  it('restricts by action: a deny of disclose leaves access alone', () => {
    const c = consent('c6', {
      type: 'permit',
      provision: [
        { type: 'deny', action: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'disclose' }] }] },
      ],
    });
    expect(effect([c], { action: 'read' })).toBe('permit');
    expect(effect([c], { action: 'export' })).toBe('deny');
  });

  it('restricts by purpose of use', () => {
    const c = consent('c7', {
      type: 'permit',
      provision: [{ type: 'deny', purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'HMARKT' }] }],
    });
    expect(effect([c], { purposeOfUse: 'HMARKT' })).toBe('deny');
    expect(effect([c], { purposeOfUse: 'TREAT' })).toBe('permit');
  });
});

describe('consent: when a Consent counts', () => {
  it('ignores one that is not active (revoked: inactive)', () => {
    expect(effect([{ ...denyActor('c1', 'Practitioner/x'), status: 'inactive' }])).toBe('none');
  });
  it('ignores one of another scope (research, treatment) and one of another patient', () => {
    const research = {
      ...denyActor('c1', 'Practitioner/x'),
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }] },
    };
    expect(effect([research])).toBe('none');
    expect(effect([consent('c2', { type: 'deny' }, {}, 'Q')])).toBe('none');
  });
  it('ignores one whose period is over, and one not yet begun', () => {
    expect(effect([consent('c1', { type: 'deny', period: { end: '2026-11-23' } })])).toBe('none');
    expect(effect([consent('c1', { type: 'deny', period: { start: '2026-11-25' } })])).toBe('none');
  });
  it('counts a date-only end through the whole of that day', () => {
    expect(effect([consent('c1', { type: 'deny', period: { end: '2026-11-24' } })])).toBe('deny');
  });
});

describe('consent: deny wins, exceptions override', () => {
  it('deny wins over permit across Consents', () => {
    expect(effect([consent('p', { type: 'permit' }), denyActor('d', 'Practitioner/x')])).toBe('deny');
  });
  it('a nested permit for one actor is an exception to a root deny ("nobody but X")', () => {
    const c = consent('c1', { type: 'deny', provision: [{ type: 'permit', actor: [actor('Practitioner/x')] }] });
    expect(effect([c])).toBe('permit');
    expect(effect([c], { actor: 'Practitioner/y' })).toBe('deny');
  });
  it('among sibling exceptions deny wins', () => {
    const c = consent('c1', {
      type: 'permit',
      provision: [
        { type: 'permit', actor: [actor('Practitioner/x')] },
        { type: 'deny', actor: [actor('Practitioner/x')] },
      ],
    });
    expect(effect([c])).toBe('deny');
  });
  it('a criterion Ward does not evaluate never narrows a deny and never satisfies a permit', () => {
    const code = [{ coding: [{ system: 'http://loinc.org', code: '8867-4' }] }];
    expect(effect([consent('d', { type: 'permit', provision: [{ type: 'deny', code }] })])).toBe('deny');
    const onlyCodePermit = consent('p', { type: 'deny', provision: [{ type: 'permit', actor: [actor('Practitioner/x')], code }] });
    expect(effect([onlyCodePermit])).toBe('deny');
  });
});

describe('42 CFR Part 2 §2.31 (consent scope)', () => {
  const part2 = (end?: string) =>
    consent('part2', {
      type: 'deny',
      provision: [
        { type: 'permit', actor: [actor('Practitioner/x')], securityLabel: [sensitivity('ETH')], ...(end ? { period: { end } } : {}) },
      ],
    });
  const sud = { confidentiality: 'R', sensitivity: ['ETH', 'SUD'] } as const;

  it('42 CFR Part 2 §2.31 (consent scope): the named recipient X is permitted SUD data and it unlocks the class; Y is refused', () => {
    const forX = evaluateConsents([part2()], request({ labels: sud }));
    expect(forX).toMatchObject({ effect: 'permit', namesActor: true, unlocks: ['ETH'] });
    expect(evaluateConsents([part2()], request({ actor: 'Practitioner/y', labels: sud })).effect).toBe('deny');
  });

  it('42 CFR Part 2 §2.31 (consent scope): after its end date X is refused', () => {
    expect(evaluateConsents([part2('2026-11-23T00:00:00Z')], request({ labels: sud })).effect).toBe('deny');
  });

  it('42 CFR Part 2 §2.31 (consent scope): after revocation (status inactive) nothing is unlocked', () => {
    const revoked = { ...part2(), status: 'inactive' };
    expect(evaluateConsents([revoked], request({ labels: sud }))).toMatchObject({ effect: 'none', unlocks: [] });
  });

  it('a permit that names no actor unlocks nothing (Part 2 needs a named recipient)', () => {
    const general = consent('general', { type: 'permit', securityLabel: [sensitivity('ETH')] });
    expect(evaluateConsents([general], request({ labels: sud }))).toMatchObject({ effect: 'permit', namesActor: false, unlocks: [] });
  });
});
