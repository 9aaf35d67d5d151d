/**
 * The cost of policy filtering on a 1,000-result search (issue 6): 100 Patients of one unit with
 * 10 Observations each share one code; fetching every match is two pages of `_count=500`.
 * Measured, one search at a time, in Ward's own process on PostgreSQL:
 *   - clinician: a physician of the patients' unit (a unit relationship permits all 1,000), through
 *     the vault — relationship and consent facts loaded per batch of 200, every row decided and
 *     opened to decide on its labels, one audit entry per page;
 *   - clinician-override: the same with an organization override in force for the unit (one more
 *     query per operation and per batch);
 *   - system: the service principal through the vault (consents still loaded, no relationships);
 *   - no-policy reference: the same SQL pages and decryption without facts, decisions or audit —
 *     what the search would cost if nothing were filtered (built here from the store; Ward has no
 *     switch that turns policy off, and must not);
 *   - clinician-http: the clinician's search end to end through HTTP (Fastify inject, token check, Bundle).
 * Run on its own: `node --import tsx bench/search-filtering.ts` (PostgreSQL as for `npm run bench`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/app/config.js';
import { createToken, operatorContext, operatorPrincipal } from '../src/app/operator-commands.js';
import { buildWardHttpApp } from '../src/app/server.js';
import { openWard, type Ward } from '../src/app/ward.js';
import { Keyring, LocalKeyFileProvider } from '../src/crypto/index.js';
import { parseSearch } from '../src/fhir/index.js';
import { type Principal, parseScopes } from '../src/policy/index.js';
import { keyStore, searchResources } from '../src/store/index.js';
import { openResource } from '../src/vault/sealing.js';
import { conditionsOf, orderOf } from '../src/vault/search-conditions.js';
import { createBenchDatabase } from './database.js';
import { BENCH_UNIT, observationFactory, patientFactory, rng } from './population.js';

export interface FilteringVariant {
  readonly name: string;
  readonly results: number;
  /** Milliseconds per 1,000-result search (two pages), over the measured iterations. */
  readonly medianMs: number;
  readonly meanMs: number;
  readonly p90Ms: number;
}

export interface SearchFilteringFigures {
  readonly matches: number;
  readonly iterations: number;
  readonly variants: readonly FilteringVariant[];
}

const PATIENTS = 100;
const PER_PATIENT = 10;
const CODE = 'http://loinc.org|8867-4';
const QUERY = `code=${encodeURIComponent(CODE)}&_count=500`;

export async function measureSearchFiltering(adminUrl: string, iterations = 15): Promise<SearchFilteringFigures> {
  const db = await createBenchDatabase(adminUrl);
  const dataDir = mkdtempSync(join(tmpdir(), 'ward-bench-filter-'));
  let ward: Ward | undefined;
  try {
    const config = loadConfig({ WARD_DATA_DIR: dataDir, DATABASE_URL: db.url, WARD_LOG_LEVEL: 'warn', WARD_INSECURE_HTTP: '1' }, dataDir);
    ward = await openWard(config, { migrate: true });
    const w = ward;
    const ctx = () => ({ requestId: randomUUID(), listener: 'http' as const, audited: false });
    const system: Principal = {
      id: 'system',
      kind: 'system',
      roles: ['system'],
      scopes: parseScopes('system/*.cruds'),
      purposeOfUse: 'TREAT',
    };
    const clinician: Principal = {
      id: 'Practitioner/bench-filter',
      kind: 'user',
      roles: ['physician'],
      scopes: parseScopes('user/*.cruds'),
      purposeOfUse: 'TREAT',
      organizations: [BENCH_UNIT],
    };
    await load(w, system, ctx);

    const page = (principal: Principal, offset: number) =>
      w.vault.search(
        principal,
        ctx(),
        'Observation',
        parseSearch('Observation', new URLSearchParams(`${QUERY}&_offset=${offset}`), { lenient: false, now: new Date() }),
        {
          pageSize: 500,
        },
      );
    const viaVault = (principal: Principal) => async () =>
      (await page(principal, 0)).entries.length + (await page(principal, 500)).entries.length;

    // The reference: Ward's own SQL and decryption, with nothing decided, loaded for policy or audited.
    const keyring = await Keyring.open(keyStore(w.db), LocalKeyFileProvider.open(config.rootKeyFile, { create: false }));
    const request = parseSearch('Observation', new URLSearchParams(QUERY), { lenient: false, now: new Date() });
    const conditions = await conditionsOf(keyring.blindIndexer, 'Observation', request.criteria, new Date(), async () => []);
    const order = orderOf(request.sort);
    const reference = async () => {
      let n = 0;
      for (const offset of [0, 500]) {
        const rows = await searchResources(w.db, 'Observation', conditions, order, { limit: 500, offset });
        for (const row of rows) if (openResource(keyring, row).resourceType === 'Observation') n++;
      }
      return n;
    };

    const http = await buildWardHttpApp(w, { logger: false });
    const token = await createToken(w, operatorPrincipal('bench'), operatorContext('cli'), {
      roles: ['physician'],
      sub: clinician.id,
      scope: 'user/*.cruds',
      ttl: '1h',
      organization: BENCH_UNIT,
    });
    const viaHttp = async () => {
      let n = 0;
      for (const offset of [0, 500]) {
        const res = await http.app.inject({
          method: 'GET',
          url: `/fhir/Observation?${QUERY}&_offset=${offset}`,
          headers: { authorization: `Bearer ${token}` },
        });
        if (res.statusCode !== 200) throw new Error(`search answered ${res.statusCode}`);
        n += (JSON.parse(res.body).entry ?? []).length;
      }
      return n;
    };

    const variants: FilteringVariant[] = [];
    variants.push(await timed('no-policy reference', reference, iterations));
    variants.push(await timed('system', viaVault(system), iterations));
    variants.push(await timed('clinician', viaVault(clinician), iterations));
    variants.push(await timed('clinician-http', viaHttp, iterations));
    const admin: Principal = {
      id: 'Practitioner/bench-admin',
      kind: 'user',
      roles: ['system-admin'],
      scopes: parseScopes('user/*.rs'),
      purposeOfUse: 'TREAT',
    };
    await w.vault.organizationPolicy.change(admin, ctx(), BENCH_UNIT, { roles: { nurse: { hideLabels: ['HIV'] } } }, 0);
    variants.push(await timed('clinician-override', viaVault(clinician), iterations));
    await http.app.close();
    for (const v of variants)
      if (v.results !== PATIENTS * PER_PATIENT) throw new Error(`${v.name} returned ${v.results} results, not ${PATIENTS * PER_PATIENT}`);
    return { matches: PATIENTS * PER_PATIENT, iterations, variants };
  } finally {
    await ward?.close();
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** 100 unit Patients, 10 heart-rate Observations each, written through the vault as the service. */
async function load(ward: Ward, system: Principal, ctx: () => { requestId: string; listener: 'http'; audited: boolean }): Promise<void> {
  const r = rng(7);
  for (let p = 0; p < PATIENTS; p++) {
    const patient = await ward.vault.create(system, ctx(), 'Patient', patientFactory(r, p));
    await Promise.all(
      Array.from({ length: PER_PATIENT }, () => {
        const obs = observationFactory(r, patient.resource.id);
        obs.code = { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] };
        return ward.vault.create(system, ctx(), 'Observation', obs);
      }),
    );
  }
}

async function timed(name: string, run: () => Promise<number>, iterations: number): Promise<FilteringVariant> {
  let results = 0;
  for (let i = 0; i < 3; i++) results = await run();
  const ms: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    results = await run();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] as number;
  return { name, results, medianMs: at(0.5), meanMs: ms.reduce((a, b) => a + b, 0) / ms.length, p90Ms: at(0.9) };
}

export function filteringText(f: SearchFilteringFigures): string {
  const ref = f.variants[0] as FilteringVariant;
  const lines = f.variants.map(
    (v) =>
      `  ${v.name.padEnd(20)} ${v.medianMs.toFixed(1).padStart(8)} ms median  ${v.meanMs.toFixed(1).padStart(8)} ms mean  ${v.p90Ms.toFixed(1).padStart(8)} ms p90` +
      (v === ref ? '' : `  (+${(v.medianMs - ref.medianMs).toFixed(1)} ms, ×${(v.medianMs / ref.medianMs).toFixed(2)} of the reference)`),
  );
  return [`search returning ${f.matches} results (two pages of 500), ${f.iterations} iterations each:`, ...lines].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await measureSearchFiltering(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  process.stdout.write(`${filteringText(figures)}\n`);
}
