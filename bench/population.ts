/**
 * A synthetic population for the benchmark: small factories that make valid FHIR R4 resources from
 * a seeded generator. Every name, identifier and value is made up; no real data is involved.
 */

export type Json = Record<string, any>;

/** mulberry32: a tiny seeded PRNG, so that two runs load the same population. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
const int = (r: () => number, min: number, max: number) => min + Math.floor(r() * (max - min + 1));
const pad = (n: number) => String(n).padStart(2, '0');
const day = (r: () => number, fromYear: number, toYear: number) =>
  `${int(r, fromYear, toYear)}-${pad(int(r, 1, 12))}-${pad(int(r, 1, 28))}`;
const instant = (r: () => number) => `${day(r, 2019, 2024)}T${pad(int(r, 0, 23))}:${pad(int(r, 0, 59))}:00Z`;

const FAMILY = ['Abara', 'Benedek', 'Castell', 'Dunmore', 'Eskola', 'Farrow', 'Galindo', 'Holt', 'Iverson', 'Juhl'];
const GIVEN = ['Ari', 'Bea', 'Cato', 'Dell', 'Emry', 'Finn', 'Gale', 'Hale', 'Ines', 'Jory'];

/** The organization unit of the benchmark's patients and of its physician. */
export const BENCH_UNIT = 'Organization/bench-unit';

export function patientFactory(r: () => number, n: number): Json {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.19.5.99999.1', value: `BENCH-${String(n).padStart(6, '0')}` }],
    name: [{ family: pick(r, FAMILY), given: [pick(r, GIVEN)] }],
    gender: pick(r, ['female', 'male', 'other', 'unknown']),
    birthDate: day(r, 1930, 2020),
    // The benchmark physician reaches these patients as a member of their unit (ADR 0009).
    managingOrganization: { reference: BENCH_UNIT },
  };
}

const VITALS = [
  { code: '8867-4', display: 'Heart rate', unit: '/min', min: 50, max: 120 },
  { code: '8310-5', display: 'Body temperature', unit: 'Cel', min: 35, max: 40 },
  { code: '9279-1', display: 'Respiratory rate', unit: '/min', min: 10, max: 30 },
  { code: '29463-7', display: 'Body weight', unit: 'kg', min: 3, max: 150 },
  { code: '8302-2', display: 'Body height', unit: 'cm', min: 45, max: 200 },
  { code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry', unit: '%', min: 85, max: 100 },
] as const;

export function observationFactory(r: () => number, patientId: string): Json {
  const v = pick(r, VITALS);
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: v.code, display: v.display }], text: v.display },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: instant(r),
    valueQuantity: {
      value: Math.round((v.min + r() * (v.max - v.min)) * 10) / 10,
      unit: v.unit,
      system: 'http://unitsofmeasure.org',
      code: v.unit,
    },
  };
}

const CONDITIONS = [
  { code: '38341003', display: 'Hypertensive disorder' },
  { code: '44054006', display: 'Diabetes mellitus type 2' },
  { code: '195967001', display: 'Asthma' },
  { code: '35489007', display: 'Depressive disorder' },
  { code: '55822004', display: 'Hyperlipidemia' },
] as const;

export function conditionFactory(r: () => number, patientId: string): Json {
  const c = pick(r, CONDITIONS);
  return {
    resourceType: 'Condition',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'problem-list-item' }] }],
    code: { coding: [{ system: 'http://snomed.info/sct', code: c.code, display: c.display }], text: c.display },
    subject: { reference: `Patient/${patientId}` },
    onsetDateTime: day(r, 1990, 2024),
    recordedDate: day(r, 2019, 2024),
  };
}

const MEDICATIONS = [
  { code: '197361', display: 'amlodipine 5 MG Oral Tablet' },
  { code: '860975', display: 'metformin hydrochloride 500 MG Oral Tablet' },
  { code: '617314', display: 'atorvastatin 10 MG Oral Tablet' },
  { code: '745679', display: 'albuterol 0.09 MG/ACTUAT Metered Dose Inhaler' },
] as const;

export function medicationRequestFactory(r: () => number, patientId: string): Json {
  const m = pick(r, MEDICATIONS);
  return {
    resourceType: 'MedicationRequest',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: m.code, display: m.display }] },
    subject: { reference: `Patient/${patientId}` },
    authoredOn: day(r, 2019, 2024),
    dosageInstruction: [{ text: 'one tablet daily', timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
  };
}

export interface PopulationShape {
  readonly patients: number;
  readonly observationsPerPatient: number;
  readonly conditionsPerPatient: number;
  readonly medicationRequestsPerPatient: number;
}

export interface LoadedPopulation {
  readonly patientIds: string[];
  /** Every Observation as Ward stored it (id and meta included). */
  readonly observations: Json[];
  readonly resourceCount: number;
  readonly seconds: number;
}

export interface FhirPoster {
  /** POSTs a resource and returns the stored resource (Prefer: return=representation is Ward's default). */
  post(resource: Json): Promise<Json>;
}

/**
 * Loads the population through the FHIR API: patients first, then each patient's resources, with
 * `concurrency` requests in flight.
 */
export async function loadPopulation(
  fhir: FhirPoster,
  shape: PopulationShape,
  seed: number,
  concurrency: number,
): Promise<LoadedPopulation> {
  const started = performance.now();
  const r = rng(seed);
  const patientIds = await inParallel(
    Array.from({ length: shape.patients }, (_, n) => patientFactory(r, n)),
    concurrency,
    async (p) => (await fhir.post(p)).id as string,
  );
  const dependants: Json[] = [];
  for (const pid of patientIds) {
    for (let i = 0; i < shape.observationsPerPatient; i++) dependants.push(observationFactory(r, pid));
    for (let i = 0; i < shape.conditionsPerPatient; i++) dependants.push(conditionFactory(r, pid));
    for (let i = 0; i < shape.medicationRequestsPerPatient; i++) dependants.push(medicationRequestFactory(r, pid));
  }
  const stored = await inParallel(dependants, concurrency, (d) => fhir.post(d));
  return {
    patientIds,
    observations: stored.filter((s) => s.resourceType === 'Observation'),
    resourceCount: patientIds.length + stored.length,
    seconds: (performance.now() - started) / 1000,
  };
}

export async function inParallel<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
