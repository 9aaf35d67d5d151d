import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_UNIT } from '../../bench/population.js';
import { MRN_SYSTEM } from '../../bench/search-factories.js';
import { PER_PATIENT, writePopulation } from '../../bench/search-population.js';
import { DEFAULT_PAGE, mismatch, SEARCH_SCENARIOS, type SearchCheck } from '../../bench/search-queries.js';

type Resource = Record<string, any>;

const dirs: string[] = [];
const generate = (patients: number, seed: number) => {
  const dir = mkdtempSync(join(tmpdir(), 'ward-search-population-'));
  dirs.push(dir);
  return { dir, population: writePopulation(dir, patients, seed, 200) };
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const filesOf = (dir: string) => readdirSync(dir).sort();
const resourcesOf = (dir: string): Resource[] =>
  filesOf(dir).flatMap((f) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Resource),
  );
const query = (path: string) => new URL(path, 'http://x').searchParams;

/**
 * The answers each request of the benchmark expects, recomputed from the NDJSON files alone (not
 * from the generator's bookkeeping), as the benchmark physician would be shown them.
 */
function recount(resources: readonly Resource[], path: string): { matches: string[]; included: string[] } {
  const visiblePatients = new Map(
    resources
      .filter((r) => r.resourceType === 'Patient' && r.managingOrganization.reference === BENCH_UNIT)
      .map((r) => [r.id as string, r]),
  );
  const q = query(path);
  if (path.startsWith('/fhir/Patient?name=')) {
    const prefix = (q.get('name') as string).toLowerCase();
    const matches = [...visiblePatients.values()]
      .filter((p) => [p.name[0].family, ...p.name[0].given].some((s: string) => s.toLowerCase().startsWith(prefix)))
      .map((p) => p.id);
    return { matches, included: [] };
  }
  if (path.startsWith('/fhir/Patient?identifier=')) {
    const [system, value] = (q.get('identifier') as string).split('|');
    const matches = [...visiblePatients.values()]
      .filter((p) => p.identifier.some((i: Resource) => i.system === system && i.value === value))
      .map((p) => p.id);
    return { matches, included: [] };
  }
  const patient = q.get('patient') as string;
  const [, code] = (q.get('code') as string).split('|');
  const from = q.get('date')?.slice(2);
  const matches = resources
    .filter(
      (r) =>
        r.resourceType === 'Observation' &&
        r.subject.reference === `Patient/${patient}` &&
        r.code.coding[0].code === code &&
        visiblePatients.has(patient) &&
        (from === undefined || Date.parse(r.effectiveDateTime) >= Date.parse(`${from}T00:00:00Z`)),
    )
    .map((r) => r.id);
  return { matches, included: q.get('_include') ? [patient] : [] };
}

const sorted = (a: readonly string[]) => [...a].sort();

describe('the large search population (bench/search-population.ts)', () => {
  const { dir, population } = generate(300, 7);
  const resources = resourcesOf(dir);

  it('writes 20 resources per patient besides the Patient, with unique ids, directory files first', () => {
    const perPatient = Object.values(PER_PATIENT).reduce((a, b) => a + b, 0);
    expect(perPatient).toBe(20);
    expect(population.byType.Patient).toBe(300);
    expect(population.byType.Observation).toBe(300 * PER_PATIENT.Observation);
    expect(resources.length).toBe(population.resources);
    expect(new Set(resources.map((r) => `${r.resourceType}/${r.id}`)).size).toBe(resources.length);
    expect(filesOf(dir)[0]).toMatch(/^1-directory-/);
    const mrns = resources.filter((r) => r.resourceType === 'Patient').map((r) => r.identifier[0]);
    expect(mrns.every((i) => i.system === MRN_SYSTEM)).toBe(true);
    expect(new Set(mrns.map((i) => i.value)).size).toBe(300);
  });

  it('writes the same files for the same seed, and others for another seed', () => {
    const digest = (d: string) =>
      createHash('sha256')
        .update(
          filesOf(d)
            .map((f) => readFileSync(join(d, f), 'utf8'))
            .join('\u0000'),
        )
        .digest('hex');
    expect(digest(generate(300, 7).dir)).toBe(digest(dir));
    expect(digest(generate(300, 8).dir)).not.toBe(digest(dir));
  });

  it("expects, for every checked request of every scenario, exactly what the files hold for the physician's unit", () => {
    for (const name of SEARCH_SCENARIOS) {
      const plan = population.plans[name];
      expect(plan.paths.length).toBe(200);
      expect(plan.checks.length).toBeGreaterThan(0);
      for (const check of plan.checks) {
        const truth = recount(resources, check.path);
        expect(truth.matches.length, check.path).toBeGreaterThan(0);
        expect(sorted(check.matches), check.path).toEqual(sorted(truth.matches));
        expect(sorted(check.included), check.path).toEqual(sorted(truth.included));
      }
    }
  });

  it('keeps some patients outside the unit, so that search has something to filter', () => {
    const outside = resources.filter((r) => r.resourceType === 'Patient' && r.managingOrganization.reference !== BENCH_UNIT);
    expect(outside.length).toBeGreaterThan(10);
  });
});

describe('checking an answer against the expected one (mismatch)', () => {
  const check: SearchCheck = { path: '/fhir/Observation?x', matches: ['a', 'b'], included: ['p'] };
  const bundle = (matches: string[], included: string[], extra: Resource = {}) => ({
    ...extra,
    entry: [
      ...matches.map((id) => ({ resource: { id }, search: { mode: 'match' } })),
      ...included.map((id) => ({ resource: { id }, search: { mode: 'include' } })),
    ],
  });

  it.each([
    ['an empty answer', bundle([], [])],
    ['a missing match', bundle(['a'], ['p'])],
    ['a match too many', bundle(['a', 'b', 'c'], ['p'])],
    ['another match', bundle(['a', 'c'], ['p'])],
    ['a missing include', bundle(['a', 'b'], [])],
    ['a wrong total', bundle(['a', 'b'], ['p'], { total: 3 })],
  ])('refuses %s', (_, answer) => {
    expect(mismatch(check, answer)).not.toBeNull();
  });

  it('accepts the expected answer in any order, with or without its total', () => {
    expect(mismatch(check, bundle(['b', 'a'], ['p']))).toBeNull();
    expect(mismatch(check, bundle(['a', 'b'], ['p'], { total: 2 }))).toBeNull();
  });

  it('accepts a long answer page by page: a full first page of expected ids with a next link', () => {
    const many = Array.from({ length: DEFAULT_PAGE + 5 }, (_, i) => `id${i}`);
    const long: SearchCheck = { path: '/fhir/Patient?name=abc', matches: many, included: [] };
    const next = { link: [{ relation: 'next' }] };
    expect(mismatch(long, bundle(many.slice(5), [], next))).toBeNull();
    expect(mismatch(long, bundle(many.slice(5), []))).not.toBeNull();
    expect(mismatch(long, bundle([...many.slice(6), 'other'], [], next))).not.toBeNull();
    expect(mismatch(long, bundle(many.slice(6), [], next))).not.toBeNull();
  });
});
