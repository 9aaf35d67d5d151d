/**
 * Factories for the large search population (`search-large`): people with names built from
 * syllables (so that a 3–4 letter prefix selects a handful of patients out of 100 000, not
 * thousands), a medical record number, and the clinical resources around them. Every name, number
 * and value is made up from the seeded generator; no real data is involved.
 */
import { BENCH_UNIT, type Json } from './population.js';

export type Rng = () => number;

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
const int = (r: Rng, min: number, max: number) => min + Math.floor(r() * (max - min + 1));
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A resource id from the generator: 128 bits in uuid form, as servers and Synthea give them. */
export function idFrom(r: Rng): string {
  const hex = Array.from({ length: 4 }, () =>
    Math.floor(r() * 2 ** 32)
      .toString(16)
      .padStart(8, '0'),
  ).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

// A name opens with consonant-vowel-consonant-vowel, each letter drawn uniformly (20 × 6 × 20 × 6 =
// 14 400 four-letter openings), so that among 100 000 patients (about 230 000 name parts) a
// four-letter prefix matches about 16 of them and a three-letter one about 100. Later syllables
// only make the names look like names.
const CONSONANTS = 'bcdfghjklmnprstvwxyz'.split('');
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'y'];
const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'r', 's', 't', 'v', 'br', 'ch', 'dr', 'gr', 'kl', 'sh', 'st', 'tr'];
const NUCLEI = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'th'];

/** A made-up name of 2 + `more` syllables. */
export function madeUpName(r: Rng, more: number): string {
  let s = pick(r, CONSONANTS) + pick(r, VOWELS) + pick(r, CONSONANTS) + pick(r, VOWELS) + pick(r, CODAS);
  for (let i = 0; i < more; i++) s += pick(r, ONSETS) + pick(r, NUCLEI) + pick(r, CODAS);
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The patients' organization units: most are managed by the benchmark physician's unit, the rest by another. */
export const OTHER_UNIT = 'Organization/bench-other-unit';
/** Share of patients outside the physician's unit: search must filter them out (ADR 0009, relationship rule). */
export const OTHER_UNIT_SHARE = 0.1;

/** The MRN's identifier system: a made-up OID under HL7's example root (2.16.840.1.113883.19.5). */
export const MRN_SYSTEM = 'urn:oid:2.16.840.1.113883.19.5.99999.2';

export interface PatientFacts {
  readonly id: string;
  readonly family: string;
  readonly given: readonly string[];
  readonly mrn: string;
  /** Whether the benchmark physician's unit manages this patient (and so may see it). */
  readonly visible: boolean;
}

export function searchPatient(r: Rng, n: number): { resource: Json; facts: PatientFacts } {
  const id = idFrom(r);
  const family = madeUpName(r, int(r, 0, 1));
  const given = r() < 0.3 ? [madeUpName(r, 0), madeUpName(r, 0)] : [madeUpName(r, 0)];
  // Sequential under a made-up 2-letter site code, as hospital MRNs are; unique by construction.
  const mrn = `WB${pad(n, 8)}`;
  const visible = r() >= OTHER_UNIT_SHARE;
  const resource: Json = {
    resourceType: 'Patient',
    id,
    identifier: [
      {
        use: 'usual',
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }] },
        system: MRN_SYSTEM,
        value: mrn,
      },
    ],
    active: true,
    name: [{ use: 'official', family, given }],
    telecom: [{ system: 'phone', value: `555-01${pad(int(r, 0, 99))}-${pad(int(r, 0, 9999), 4)}`, use: 'home' }],
    gender: pick(r, ['female', 'male', 'other', 'unknown']),
    birthDate: `${int(r, 1930, 2020)}-${pad(int(r, 1, 12))}-${pad(int(r, 1, 28))}`,
    address: [{ line: [`${int(r, 1, 999)} ${madeUpName(r, 0)} Street`], city: madeUpName(r, 0), postalCode: pad(int(r, 0, 99999), 5) }],
    managingOrganization: { reference: visible ? BENCH_UNIT : OTHER_UNIT },
  };
  return { resource, facts: { id, family, given, mrn, visible } };
}

export function organization(id: string, name: string): Json {
  return { resourceType: 'Organization', id, active: true, name };
}

export function practitioner(r: Rng): Json {
  return {
    resourceType: 'Practitioner',
    id: idFrom(r),
    active: true,
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: String(int(r, 1_000_000_000, 1_999_999_999)) }],
    name: [{ family: madeUpName(r, 0), given: [madeUpName(r, 0)], prefix: ['Dr.'] }],
  };
}

/** Vital signs and common laboratory tests, with plausible value ranges. */
export const OBSERVATION_CODES = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', min: 50, max: 120 },
  { code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', min: 90, max: 180 },
  { code: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]', min: 50, max: 110 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', min: 3, max: 150 },
  { code: '8302-2', display: 'Body height', unit: 'cm', min: 45, max: 200 },
  { code: '2339-0', display: 'Glucose [Mass/volume] in Blood', unit: 'mg/dL', min: 60, max: 250 },
  { code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood', unit: '%', min: 4, max: 12 },
  { code: '2093-3', display: 'Cholesterol [Mass/volume] in Serum or Plasma', unit: 'mg/dL', min: 120, max: 300 },
  { code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL', min: 8, max: 18 },
  { code: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', unit: 'mg/dL', min: 0.5, max: 3 },
] as const;

/** Clinical dates are spread over these years (inclusive). */
export const FIRST_YEAR = 2014;
export const LAST_YEAR = 2024;

/** An instant in [FIRST_YEAR, LAST_YEAR] as epoch milliseconds, at whole minutes. */
function clinicalMs(r: Rng): number {
  const from = Date.UTC(FIRST_YEAR, 0, 1);
  const to = Date.UTC(LAST_YEAR + 1, 0, 1);
  return from + Math.floor((r() * (to - from)) / 60_000) * 60_000;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export interface EncounterRef {
  readonly id: string;
  readonly startMs: number;
}

export function encounter(
  r: Rng,
  patientId: string,
  practitionerId: string,
  organizationId: string,
): { resource: Json; ref: EncounterRef } {
  const id = idFrom(r);
  const startMs = clinicalMs(r);
  const resource: Json = {
    resourceType: 'Encounter',
    id,
    // Finished long ago: no `encounter` relationship for anyone now (ADR 0009), only the unit's.
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
    type: [{ coding: [{ system: 'http://snomed.info/sct', code: '185349003', display: 'Encounter for check up' }] }],
    subject: { reference: `Patient/${patientId}` },
    participant: [{ individual: { reference: `Practitioner/${practitionerId}` } }],
    period: { start: iso(startMs), end: iso(startMs + int(r, 15, 90) * 60_000) },
    serviceProvider: { reference: `Organization/${organizationId}` },
  };
  return { resource, ref: { id, startMs } };
}

export interface ObservationFacts {
  readonly id: string;
  readonly code: string;
  readonly effectiveMs: number;
}

export function observation(r: Rng, patientId: string, enc: EncounterRef): { resource: Json; facts: ObservationFacts } {
  const id = idFrom(r);
  const c = pick(r, OBSERVATION_CODES);
  const vital = OBSERVATION_CODES.indexOf(c) < 5;
  // Most results belong to an encounter; the rest were taken at other times over the years.
  const effectiveMs = r() < 0.6 ? enc.startMs + int(r, 0, 30) * 60_000 : clinicalMs(r);
  const resource: Json = {
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: vital ? 'vital-signs' : 'laboratory',
            display: vital ? 'Vital Signs' : 'Laboratory',
          },
        ],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: c.code, display: c.display }], text: c.display },
    subject: { reference: `Patient/${patientId}` },
    encounter: { reference: `Encounter/${enc.id}` },
    effectiveDateTime: iso(effectiveMs),
    valueQuantity: {
      value: Math.round((c.min + r() * (c.max - c.min)) * 10) / 10,
      unit: c.unit,
      system: 'http://unitsofmeasure.org',
      code: c.unit,
    },
  };
  return { resource, facts: { id, code: c.code, effectiveMs } };
}

const CONDITIONS = [
  { code: '38341003', display: 'Hypertensive disorder' },
  { code: '44054006', display: 'Diabetes mellitus type 2' },
  { code: '195967001', display: 'Asthma' },
  { code: '55822004', display: 'Hyperlipidemia' },
  { code: '40055000', display: 'Chronic sinusitis' },
  { code: '271737000', display: 'Anemia' },
] as const;

export function condition(r: Rng, patientId: string, enc: EncounterRef): Json {
  const c = pick(r, CONDITIONS);
  return {
    resourceType: 'Condition',
    id: idFrom(r),
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: { coding: [{ system: 'http://snomed.info/sct', code: c.code, display: c.display }], text: c.display },
    subject: { reference: `Patient/${patientId}` },
    encounter: { reference: `Encounter/${enc.id}` },
    onsetDateTime: iso(enc.startMs),
    recordedDate: iso(enc.startMs).slice(0, 10),
  };
}

const MEDICATIONS = [
  { code: '197361', display: 'amlodipine 5 MG Oral Tablet' },
  { code: '860975', display: 'metformin hydrochloride 500 MG Oral Tablet' },
  { code: '617314', display: 'atorvastatin 10 MG Oral Tablet' },
  { code: '745679', display: 'albuterol 0.09 MG/ACTUAT Metered Dose Inhaler' },
  { code: '310965', display: 'ibuprofen 200 MG Oral Tablet' },
] as const;

export function medicationRequest(r: Rng, patientId: string, practitionerId: string, enc: EncounterRef): Json {
  const m = pick(r, MEDICATIONS);
  return {
    resourceType: 'MedicationRequest',
    id: idFrom(r),
    status: pick(r, ['active', 'completed', 'stopped']),
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: m.code, display: m.display }] },
    subject: { reference: `Patient/${patientId}` },
    encounter: { reference: `Encounter/${enc.id}` },
    authoredOn: iso(enc.startMs),
    requester: { reference: `Practitioner/${practitionerId}` },
    dosageInstruction: [{ text: 'one tablet daily', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
  };
}
