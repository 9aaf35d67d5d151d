/** FHIR resources that give a principal a relationship to a patient (ADR 0009), for tests to arrange access with. */

/** An active CareTeam of the patient with these members (`Practitioner/…` or `PractitionerRole/…`). */
export const careTeam = (patientId: string, ...members: string[]) => ({
  resourceType: 'CareTeam',
  status: 'active',
  subject: { reference: `Patient/${patientId}` },
  participant: members.map((reference) => ({ member: { reference } })),
});

/** An Encounter of the patient with this participant, in progress or finished at `end`. */
export const encounterWith = (patientId: string, individual: string, end?: Date) => ({
  resourceType: 'Encounter',
  status: end ? 'finished' : 'in-progress',
  class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
  subject: { reference: `Patient/${patientId}` },
  participant: [{ individual: { reference: individual } }],
  period: { start: '2020-01-01T09:00:00Z', ...(end ? { end: end.toISOString() } : {}) },
});
