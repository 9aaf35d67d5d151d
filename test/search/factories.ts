/** Small, readable resources for the search conformance suite; labels name them in expectations. */
export const patients = {
  P1: {
    resourceType: 'Patient',
    name: [{ family: 'Müller', given: ['Anna'] }],
    birthDate: '1980-03-15',
    gender: 'female',
    identifier: [
      {
        system: 'urn:ward-test:mrn',
        value: 'MRN-1001',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }], text: 'Medical record number' },
      },
    ],
    telecom: [{ system: 'phone', value: '555-0101' }],
  },
  P2: {
    resourceType: 'Patient',
    name: [{ family: 'Mueller', given: ['Bert'] }],
    birthDate: '1980-11-02',
    gender: 'male',
    identifier: [{ system: 'urn:ward-test:mrn', value: 'MRN-1002' }],
  },
  P3: {
    resourceType: 'Patient',
    name: [{ family: 'Smith', given: ['Carla'] }],
    birthDate: '1975',
    gender: 'female',
    identifier: [{ system: 'urn:ward-test:other', value: 'MRN-1001' }],
  },
  P4: { resourceType: 'Patient', name: [{ family: 'Smithson-Longname', given: ['Dora'] }], birthDate: '1990-07-04' },
} as const;

const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });
const ucum = (value: number, code: string) => ({ value, unit: code, system: 'http://unitsofmeasure.org', code });

/** Observations; `subject` is filled with the created patient's id. */
export const observations = {
  O1: {
    patient: 'P1',
    meta: {
      tag: [{ system: 'urn:ward-test:tag', code: 'reviewed' }],
      profile: ['http://hl7.org/fhir/StructureDefinition/heartrate'],
      source: 'urn:ward-test:device#monitor-7',
      security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'HTEST' }],
    },
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }], text: 'Pulse' },
    valueQuantity: ucum(72, '/min'),
    effectiveDateTime: '2020-01-15T10:00:00Z',
  },
  O2: {
    patient: 'P1',
    status: 'preliminary',
    code: { coding: [{ system: 'http://loinc.org', code: '8310-5', display: 'Body temperature' }] },
    valueQuantity: ucum(37.5, 'Cel'),
    effectiveDateTime: '2020-02-01',
    performer: [{ identifier: { system: 'urn:ward-test:npi', value: 'NPI-4711' } }],
  },
  O3: {
    patient: 'P2',
    status: 'final',
    code: loinc('8867-4'),
    valueQuantity: ucum(100, '/min'),
    effectivePeriod: { start: '2019-12-30', end: '2020-01-02' },
  },
  O4: {
    patient: 'P2',
    status: 'final',
    code: { coding: [{ code: 'local-1' }] },
    valueQuantity: ucum(5.4, 'mmol/L'),
    effectiveDateTime: '2021',
    component: [
      { code: loinc('8480-6'), valueQuantity: ucum(120, 'mm[Hg]') },
      { code: loinc('8462-4'), valueQuantity: ucum(80, 'mm[Hg]') },
    ],
  },
} as const;

export function observationOf(label: keyof typeof observations, patientIds: Record<string, string>): Record<string, unknown> {
  const { patient, ...rest } = observations[label];
  return { resourceType: 'Observation', ...rest, subject: { reference: `Patient/${patientIds[patient]}` } };
}
