/**
 * Writes the large search population as NDJSON files for `ward import`, and draws from it, with
 * a generator of its own, the search requests the benchmark sends and the answers it expects.
 * The population is a pure function of (seed, patients): the same arguments give the same files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_UNIT, type Json, rng } from './population.js';
import {
  condition,
  type EncounterRef,
  encounter,
  medicationRequest,
  type ObservationFacts,
  OTHER_UNIT,
  observation,
  organization,
  type PatientFacts,
  practitioner,
  searchPatient,
} from './search-factories.js';
import { type SearchPlans, searchPlans } from './search-queries.js';

/** Resources per patient besides the Patient: 3 Encounters, 12 Observations, 3 Conditions, 2 MedicationRequests. */
export const PER_PATIENT = { Encounter: 3, Observation: 12, Condition: 3, MedicationRequest: 2 } as const;
/** Bumped whenever the generator's output changes, so that a reused database is not mistaken for a new population. */
export const GENERATOR_VERSION = 1;
/** NDJSON lines per file: small enough to read whole, and `ward import` resumes per file. */
const LINES_PER_FILE = 20_000;

export interface GeneratedPopulation {
  readonly patients: number;
  readonly resources: number;
  readonly byType: Record<string, number>;
  readonly files: number;
  readonly seconds: number;
  readonly plans: SearchPlans;
}

/** What the query sampler sees of the population: every patient's names, and the observations of some. */
export interface PopulationView {
  readonly patients: readonly PatientFacts[];
  /** Observations of the patients picked for observation queries, by patient id. */
  readonly observations: ReadonlyMap<string, readonly ObservationFacts[]>;
}

class NdjsonWriter {
  readonly #dir: string;
  readonly #prefix: string;
  #lines: string[] = [];
  #file = 0;
  files = 0;

  constructor(dir: string, prefix: string) {
    this.#dir = dir;
    this.#prefix = prefix;
  }

  write(resource: Json): void {
    this.#lines.push(JSON.stringify(resource));
    if (this.#lines.length >= LINES_PER_FILE) this.flush();
  }

  flush(): void {
    if (this.#lines.length === 0) return;
    // `ward import` takes a directory's files in name order: the prefix orders the kinds of file.
    writeFileSync(join(this.#dir, `${this.#prefix}-${String(++this.#file).padStart(5, '0')}.ndjson`), `${this.#lines.join('\n')}\n`);
    this.#lines = [];
    this.files++;
  }
}

/**
 * Writes Organizations and Practitioners, then Patients, then each patient's resources, into
 * `dir`, and returns the counts and the search plans drawn from them.
 */
export function writePopulation(dir: string, patients: number, seed: number, queriesPerScenario: number): GeneratedPopulation {
  const started = performance.now();
  mkdirSync(dir, { recursive: true });
  const r = rng(seed);
  // The sample is drawn with its own generator, so that sampling never changes the population.
  const pickFor = rng(seed ^ 0x5eed5);
  const observationShare = Math.min(1, (2 * queriesPerScenario) / patients);
  const byType: Record<string, number> = {};
  const count = (type: string) => {
    byType[type] = (byType[type] ?? 0) + 1;
  };

  const directory = new NdjsonWriter(dir, '1-directory');
  const organizations = [
    organization(BENCH_UNIT.slice('Organization/'.length), 'Bench unit'),
    organization(OTHER_UNIT.slice('Organization/'.length), 'Bench other unit'),
    ...Array.from({ length: Math.max(2, Math.ceil(patients / 2000)) }, (_, i) =>
      organization(`bench-site-${i + 1}`, `Bench site ${i + 1}`),
    ),
  ];
  const practitioners = Array.from({ length: Math.max(5, Math.ceil(patients / 200)) }, () => practitioner(r));
  for (const x of [...organizations, ...practitioners]) {
    directory.write(x);
    count(x.resourceType);
  }
  directory.flush();

  const patientWriter = new NdjsonWriter(dir, '2-patients');
  const clinicalWriter = new NdjsonWriter(dir, '3-clinical');
  const facts: PatientFacts[] = [];
  const observations = new Map<string, ObservationFacts[]>();
  for (let n = 0; n < patients; n++) {
    const p = searchPatient(r, n);
    patientWriter.write(p.resource);
    count('Patient');
    facts.push(p.facts);
    const keepObservations = p.facts.visible && pickFor() < observationShare;
    const kept: ObservationFacts[] = [];
    const practitionerId = practitioners[Math.floor(r() * practitioners.length)]?.id as string;
    const site = organizations[2 + Math.floor(r() * (organizations.length - 2))]?.id as string;
    const encounters: EncounterRef[] = [];
    for (let i = 0; i < PER_PATIENT.Encounter; i++) {
      const e = encounter(r, p.facts.id, practitionerId, site);
      encounters.push(e.ref);
      clinicalWriter.write(e.resource);
      count('Encounter');
    }
    const anyEncounter = () => encounters[Math.floor(r() * encounters.length)] as EncounterRef;
    for (let i = 0; i < PER_PATIENT.Observation; i++) {
      const o = observation(r, p.facts.id, anyEncounter());
      clinicalWriter.write(o.resource);
      count('Observation');
      if (keepObservations) kept.push(o.facts);
    }
    for (let i = 0; i < PER_PATIENT.Condition; i++) {
      clinicalWriter.write(condition(r, p.facts.id, anyEncounter()));
      count('Condition');
    }
    for (let i = 0; i < PER_PATIENT.MedicationRequest; i++) {
      clinicalWriter.write(medicationRequest(r, p.facts.id, practitionerId, anyEncounter()));
      count('MedicationRequest');
    }
    if (keepObservations) observations.set(p.facts.id, kept);
  }
  patientWriter.flush();
  clinicalWriter.flush();
  const plans = searchPlans({ patients: facts, observations }, rng(seed ^ 0x9e3779b9), queriesPerScenario);
  return {
    patients,
    resources: Object.values(byType).reduce((a, b) => a + b, 0),
    byType,
    files: directory.files + patientWriter.files + clinicalWriter.files,
    seconds: (performance.now() - started) / 1000,
    plans,
  };
}
