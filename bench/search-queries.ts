/**
 * The requests of the large search benchmark, drawn at random from the generated population, and
 * the answers expected for a sample of them (computed from the generator's own record of what it
 * wrote, not from Ward), so that a run that finds nothing, or the wrong thing, fails before it is
 * measured.
 */
import { MRN_SYSTEM, type ObservationFacts, type PatientFacts, type Rng } from './search-factories.js';
import type { PopulationView } from './search-population.js';

export const SEARCH_SCENARIOS = ['search-name', 'search-identifier', 'search-observation-date', 'search-observation-include'] as const;
export type SearchScenarioName = (typeof SEARCH_SCENARIOS)[number];

/** One request whose answer is known: every visible match (any order) and the resources `_include` adds. */
export interface SearchCheck {
  readonly path: string;
  readonly matches: readonly string[];
  readonly included: readonly string[];
}

export interface SearchPlan {
  readonly description: string;
  /** Request paths, in the order the load generator cycles through them. */
  readonly paths: readonly string[];
  /** The answers of the first paths. */
  readonly checks: readonly SearchCheck[];
  /** Mean number of visible matches over the checks. */
  readonly meanMatches: number;
}

export type SearchPlans = Record<SearchScenarioName, SearchPlan>;

/** Requests whose answer is checked before measuring, per scenario. */
const CHECKS = 40;
/** Ward's default page size (`_count` absent): a larger answer is checked page-wise. */
export const DEFAULT_PAGE = 50;
const DAY_MS = 86_400_000;
const LOINC = 'http://loinc.org';

const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

interface Query {
  readonly path: string;
  readonly answer: () => { matches: string[]; included: string[] };
}

function plan(description: string, queries: readonly Query[]): SearchPlan {
  const checks = queries.slice(0, CHECKS).map((q) => ({ path: q.path, ...q.answer() }));
  const empty = checks.find((c) => c.matches.length === 0);
  if (empty) throw new Error(`the generator drew a query with no answer (${empty.path}); the sampler is wrong`);
  return {
    description,
    paths: queries.map((q) => q.path),
    checks,
    meanMatches: checks.reduce((a, c) => a + c.matches.length, 0) / Math.max(1, checks.length),
  };
}

function namePrefixQuery(r: Rng, visible: readonly PatientFacts[]): Query {
  const p = pick(r, visible);
  const part = r() < 0.7 ? p.family : (p.given[0] as string);
  // Mostly four letters (a handful of patients); a quarter three (about two pages on 100 000 patients).
  const prefix = part.slice(0, r() < 0.25 ? 3 : 4);
  const lower = prefix.toLowerCase();
  return {
    path: `/fhir/Patient?name=${encodeURIComponent(prefix)}`,
    // `name` matches each part of the HumanName on its own, case-insensitively (R4 §3.1.1.5.6).
    answer: () => ({
      matches: visible.filter((x) => [x.family, ...x.given].some((g) => g.toLowerCase().startsWith(lower))).map((x) => x.id),
      included: [],
    }),
  };
}

function identifierQuery(r: Rng, visible: readonly PatientFacts[]): Query {
  const p = pick(r, visible);
  return {
    path: `/fhir/Patient?identifier=${encodeURIComponent(`${MRN_SYSTEM}|${p.mrn}`)}`,
    answer: () => ({ matches: [p.id], included: [] }),
  };
}

function observationQuery(r: Rng, patientId: string, observations: readonly ObservationFacts[], include: boolean): Query {
  const o = pick(r, observations);
  const code = `code=${encodeURIComponent(`${LOINC}|${o.code}`)}`;
  const sameCode = observations.filter((x) => x.code === o.code);
  if (include) {
    return {
      path: `/fhir/Observation?patient=${patientId}&${code}&_include=Observation:subject`,
      answer: () => ({ matches: sameCode.map((x) => x.id), included: [patientId] }),
    };
  }
  // From up to three years before one of the patient's results, so that the answer holds it and maybe others.
  const from = Math.floor((o.effectiveMs - r() * 3 * 365 * DAY_MS) / DAY_MS) * DAY_MS;
  return {
    path: `/fhir/Observation?patient=${patientId}&${code}&date=ge${day(from)}`,
    answer: () => ({ matches: sameCode.filter((x) => x.effectiveMs >= from).map((x) => x.id), included: [] }),
  };
}

/** `perScenario` requests of each scenario, with values drawn at random (with `r`) from the population. */
export function searchPlans(view: PopulationView, r: Rng, perScenario: number): SearchPlans {
  const visible = view.patients.filter((p) => p.visible);
  const observed = [...view.observations];
  if (visible.length === 0 || observed.length === 0) throw new Error('the population has no patient the benchmark physician may see');
  const times = <T>(make: () => T) => Array.from({ length: perScenario }, make);
  const observationQueries = (include: boolean) =>
    times(() => {
      const [patientId, observations] = pick(r, observed);
      return observationQuery(r, patientId, observations, include);
    });
  return {
    'search-name': plan(
      'GET /fhir/Patient?name=<first 4 letters (3 for a quarter) of a family or given name>',
      times(() => namePrefixQuery(r, visible)),
    ),
    'search-identifier': plan(
      'GET /fhir/Patient?identifier=<MRN system>|<MRN>',
      times(() => identifierQuery(r, visible)),
    ),
    'search-observation-date': plan('GET /fhir/Observation?patient=<id>&code=<LOINC>&date=ge<day>', observationQueries(false)),
    'search-observation-include': plan(
      'GET /fhir/Observation?patient=<id>&code=<LOINC>&_include=Observation:subject',
      observationQueries(true),
    ),
  };
}

interface BundleLike {
  total?: number;
  link?: { relation: string }[];
  entry?: { resource?: { resourceType?: string; id?: string }; search?: { mode?: string } }[];
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && new Set([...a, ...b]).size === a.length;

/** Why a response does not answer a check as expected, or null when it does. */
export function mismatch(check: SearchCheck, bundle: BundleLike): string | null {
  const entries = bundle.entry ?? [];
  const ids = (mode: string) => entries.filter((e) => e.search?.mode === mode).map((e) => e.resource?.id ?? '?');
  const matches = ids('match');
  const included = ids('include');
  if (matches.length === 0) return `no match (expected ${check.matches.length})`;
  if (check.matches.length <= DEFAULT_PAGE) {
    if (!sameSet(matches, check.matches)) return `matched ${matches.length} resources, not the ${check.matches.length} expected`;
  } else {
    const expected = new Set(check.matches);
    if (matches.length !== DEFAULT_PAGE || matches.some((id) => !expected.has(id))) {
      return `first page of ${matches.length} is not ${DEFAULT_PAGE} of the ${check.matches.length} expected`;
    }
    if (!bundle.link?.some((l) => l.relation === 'next')) return 'no next link on a partial page';
  }
  if (bundle.total !== undefined && bundle.total !== check.matches.length) return `total ${bundle.total}, expected ${check.matches.length}`;
  if (!sameSet(included, check.included)) return `included ${included.length} resources, not the ${check.included.length} expected`;
  return null;
}

/**
 * Sends every check of every plan and throws on the first answer that differs; returns the number
 * of requests checked.
 */
export async function verifyPlans(baseUrl: string, headers: Record<string, string>, plans: SearchPlans): Promise<number> {
  let checked = 0;
  for (const name of SEARCH_SCENARIOS) {
    for (const check of plans[name].checks) {
      const res = await fetch(`${baseUrl}${check.path}`, { headers });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${name}: ${check.path} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
      const wrong = mismatch(check, JSON.parse(text) as BundleLike);
      if (wrong) throw new Error(`${name}: ${check.path} — ${wrong}`);
      checked++;
    }
  }
  return checked;
}
