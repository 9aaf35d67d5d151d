import { describe, expect, it } from 'vitest';
import type { FhirResource } from '../../src/fhir/index.js';
import { decide, type MaskObligation, mask } from '../../src/policy/index.js';
import { person } from './policy-fixtures.js';

const encounter: FhirResource = {
  resourceType: 'Encounter',
  id: 'e1',
  meta: { versionId: '2' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Seen for chest pain</div>' },
  contained: [{ resourceType: 'Observation', status: 'final', code: { text: 'troponin' } }],
  status: 'finished',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
  subject: { reference: 'Patient/P' },
  period: { start: '2026-11-01T09:00:00Z', end: '2026-11-01T10:00:00Z' },
  serviceProvider: { reference: 'Organization/o1' },
  participant: [{ individual: { reference: 'Practitioner/doc' } }],
  reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '29857009' }], text: 'Chest pain' }],
  diagnosis: [{ condition: { reference: 'Condition/c1' } }],
};

const patient: FhirResource = {
  resourceType: 'Patient',
  id: 'P',
  extension: [{ url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-genderIdentity', valueCodeableConcept: { text: 'x' } }],
  name: [{ family: 'Doe', given: ['Jane'] }],
  birthDate: '1980-01-01',
  maritalStatus: { text: 'married' },
  contact: [{ name: { family: 'Doe' } }],
  address: [{ line: ['1 Main St'] }],
};

/** The mask the policy gives a billing user reading the type. */
function billingMask(resource: FhirResource): MaskObligation {
  const decision = decide(person('Practitioner/bill', 'billing', 'user/*.rs'), 'read', {
    resourceType: resource.resourceType,
    id: String(resource.id),
    patients: ['P'],
  });
  if (decision.effect !== 'permit') throw new Error('billing may read this type');
  const obligation = decision.obligations.find((o): o is MaskObligation => o.kind === 'mask');
  if (!obligation) throw new Error('billing reads this type masked');
  return obligation;
}

describe('mask (164.502(b) · 164.514(d) minimum necessary)', () => {
  it('164.502(b) · 164.514(d): a billing read of an Encounter keeps its administrative frame and drops notes, reasons, diagnoses and participants', () => {
    const masked = mask(encounter, billingMask(encounter));
    expect(Object.keys(masked).sort()).toEqual(['class', 'id', 'meta', 'period', 'resourceType', 'serviceProvider', 'status', 'subject']);
    expect(JSON.stringify(masked)).not.toContain('chest pain');
    expect(JSON.stringify(masked)).not.toContain('troponin');
  });

  it('164.502(b) · 164.514(d): a billing read of a Patient drops extensions (gender identity), marital status and contacts', () => {
    const masked = mask(patient, billingMask(patient));
    expect(Object.keys(masked).sort()).toEqual(['address', 'birthDate', 'id', 'meta', 'name', 'resourceType']);
  });

  it('tags what it withheld: REDACTED in meta.security and SUBSETTED in meta.tag, keeping the version', () => {
    const masked = mask(encounter, billingMask(encounter));
    expect(masked.meta?.security).toContainEqual(
      expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED' }),
    );
    expect(masked.meta?.tag).toContainEqual(
      expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }),
    );
    expect(masked.meta?.versionId).toBe('2');
  });

  it('adds no tag when nothing was withheld, and never changes its input', () => {
    const small: FhirResource = { resourceType: 'Encounter', id: 'e2', status: 'planned', class: { code: 'AMB' } };
    const before = structuredClone(encounter);
    expect(mask(small, billingMask(encounter))).toEqual(small);
    mask(encounter, billingMask(encounter));
    expect(encounter).toEqual(before);
  });

  it('164.502(b) · 164.514(d): a billing user may not write an Encounter or Patient it only sees masked', () => {
    const billing = person('Practitioner/bill', 'billing', 'user/*.cruds');
    expect(decide(billing, 'update', { resourceType: 'Encounter', id: 'e1', patients: ['P'] }).effect).toBe('deny');
    expect(decide(billing, 'update', { resourceType: 'Patient', id: 'P', patients: ['P'] }).effect).toBe('deny');
    expect(decide(billing, 'update', { resourceType: 'Claim', id: 'c1', patients: ['P'] }).effect).toBe('permit');
  });

  it('164.502(b) · 164.514(d): a nurse writes vitals but not Coverage or Claim', () => {
    const nurse = person('Practitioner/rn', 'nurse', 'user/*.cruds');
    expect(decide(nurse, 'create', { resourceType: 'Observation', id: 'o1', patients: ['P'] }).effect).toBe('permit');
    expect(decide(nurse, 'create', { resourceType: 'Coverage', id: 'cov1', patients: ['P'] }).effect).toBe('deny');
    expect(decide(nurse, 'create', { resourceType: 'Claim', id: 'cl1', patients: ['P'] }).effect).toBe('deny');
    expect(decide(nurse, 'read', { resourceType: 'Claim', id: 'cl1', patients: ['P'] }).effect).toBe('deny');
  });

  it('164.502(b) · 164.514(d): front desk sees demographics, coverage and appointments but no clinical resource', () => {
    const desk = person('Practitioner/fd', 'front-desk', 'user/*.cruds');
    for (const type of ['Patient', 'Coverage', 'Appointment'])
      expect(decide(desk, 'read', { resourceType: type, id: 'x', patients: ['P'] }).effect).toBe('permit');
    for (const type of ['Observation', 'Condition', 'MedicationRequest', 'Encounter', 'DocumentReference'])
      expect(decide(desk, 'read', { resourceType: type, id: 'x', patients: ['P'] }).effect).toBe('deny');
  });
});
