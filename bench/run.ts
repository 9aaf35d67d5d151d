/**
 * `npm run bench`: Ward's throughput and latency next to a bare Fastify + pg baseline, on the same
 * PostgreSQL server, in one run. See docs/benchmarks.md for what the figures mean.
 *
 * Environment (all optional):
 *   BENCH_SECONDS=10          measured seconds per scenario
 *   BENCH_WARMUP_SECONDS=2    unmeasured load before each scenario
 *   BENCH_CONNECTIONS=64      concurrent connections
 *   BENCH_PATIENTS=200        population size (each with 10 Observations, 3 Conditions, 2 MedicationRequests)
 *   BENCH_SEED=42             population seed
 *   BENCH_DATABASE_URL        admin connection (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_PROFILE=1           CPU-profile the server thread in each scenario (slower; figures not comparable)
 *   BENCH_AUDIT_ENTRIES=200000 audit entries appended, sealed and verified for the sealing figures (0 skips)
 *   BENCH_ONLY=a,b            run only these scenarios (ward-read, ward-create, ward-update, ward-read-tls, bare-read,
 *                             bare-read-audited, bare-insert, audit-sealing, policy-decisions, search-filtering;
 *                             a bare scenario runs twice, at the start and at the end;
 *                             search-large, or any of search-name, search-identifier, search-observation-date,
 *                             search-observation-include — these run only when named here)
 *   WARD_DB_POOL_SIZE, WARD_AUDIT_MAX_BATCH are passed to Ward; the baseline pool uses Ward's pool size.
 *
 * search-large (bench/search-large.ts, docs/benchmarks.md "Search on a large population"): a generated
 * population written as NDJSON, loaded with `node dist/cli/ward.js import`, then searched at
 * BENCH_SEARCH_CONNECTIONS as the benchmark physician, each scenario for BENCH_SECONDS:
 *   BENCH_SEARCH_PATIENTS=100000  patients, each with 3 Encounters, 12 Observations, 3 Conditions, 2 MedicationRequests
 *   BENCH_SEARCH_CONNECTIONS=16   concurrent connections
 *   BENCH_SEARCH_QUERIES=5000     distinct requests per scenario, drawn at random from the population
 *   BENCH_SEARCH_REUSE=1          reuse the kept database of this BENCH_SEED and size when it is complete
 *                                 (otherwise it is generated and imported again)
 *   BENCH_SEARCH_DROP=1           drop the database and its directory at the end (by default they are kept)
 *   BENCH_SEARCH_DIR              where the kept WARD_DATA_DIR and manifest live (default <tmpdir>/ward-bench-search)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from '../src/app/server.js';
import { measureSealing, type SealingFigures } from './audit-sealing.js';
import { type BaselineServer, startBaselineServer } from './baseline-server.js';
import { machineLoad } from './cpu.js';
import { type BenchDatabase, createBenchDatabase, serverVersion } from './database.js';
import { LoadGenerator, type MeasureOptions, measure, type Scenario } from './measure.js';
import { measurePolicyDecisions, type PolicyDecisionFigures } from './policy-decisions.js';
import { type Json, type LoadedPopulation, loadPopulation, observationFactory, rng } from './population.js';
import {
  auditShare,
  auditShareText,
  baselineDrift,
  computeRatios,
  cpuTable,
  driftText,
  figuresTable,
  goalsText,
  markdownTable,
  outsideCores,
  profileText,
  type ScenarioResult,
  writeResults,
} from './report.js';
import { filteringText, measureSearchFiltering, type SearchFilteringFigures } from './search-filtering.js';
import { runSearchLarge } from './search-large.js';
import { SEARCH_SCENARIOS, type SearchScenarioName } from './search-queries.js';
import { fhirHeaders, freePort, HOST, mintToken, wardConfig } from './ward-server.js';

/** Above this, CPU used by processes outside the benchmark during a scenario is reported as a warning. */
const OUTSIDE_LIMIT_CORES = 0.2;
/** Above this, a change between the two measurements of a bare scenario is reported as a warning. */
const DRIFT_LIMIT = 0.1;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new TypeError(`${name} must be an integer between ${min} and ${max}`);
  return n;
}

const settings = {
  seconds: intEnv('BENCH_SECONDS', 10, 1, 3600),
  warmupSeconds: intEnv('BENCH_WARMUP_SECONDS', 2, 0, 600),
  connections: intEnv('BENCH_CONNECTIONS', 64, 1, 10_000),
  patients: intEnv('BENCH_PATIENTS', 200, 1, 100_000),
  seed: intEnv('BENCH_SEED', 42, 0, 2 ** 31),
  adminUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  profile: process.env.BENCH_PROFILE === '1',
  auditEntries: intEnv('BENCH_AUDIT_ENTRIES', 200_000, 0, 100_000_000),
  only: process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : null,
  searchPatients: intEnv('BENCH_SEARCH_PATIENTS', 100_000, 10, 10_000_000),
  searchConnections: intEnv('BENCH_SEARCH_CONNECTIONS', 16, 1, 10_000),
  searchQueries: intEnv('BENCH_SEARCH_QUERIES', 5000, 40, 1_000_000),
  searchReuse: process.env.BENCH_SEARCH_REUSE === '1',
  searchDrop: process.env.BENCH_SEARCH_DROP === '1',
  searchDir: process.env.BENCH_SEARCH_DIR || join(tmpdir(), 'ward-bench-search'),
};
const SHAPE = { patients: settings.patients, observationsPerPatient: 10, conditionsPerPatient: 3, medicationRequestsPerPatient: 2 };
const wanted = (name: string) => settings.only === null || settings.only.has(name);
/** The scenarios of the first part (Ward next to the bare baseline, sealing, policy), run by default. */
const STANDARD = [
  'bare-read',
  'bare-read-audited',
  'ward-read',
  'bare-insert',
  'ward-create',
  'ward-update',
  'audit-sealing',
  'policy-decisions',
  'ward-read-tls',
];
/** The search scenarios take a long load, so they run only when BENCH_ONLY names them (or search-large). */
const searchWanted = new Set<SearchScenarioName>(
  SEARCH_SCENARIOS.filter((n) => settings.only !== null && (settings.only.has(n) || settings.only.has('search-large'))),
);

const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);

function poster(baseUrl: string, token: string) {
  return {
    async post(resource: Json): Promise<Json> {
      const res = await fetch(`${baseUrl}/fhir/${resource.resourceType}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
        body: JSON.stringify(resource),
      });
      const text = await res.text();
      if (res.status !== 201) throw new Error(`loading a ${resource.resourceType} failed: HTTP ${res.status} ${text.slice(0, 400)}`);
      return JSON.parse(text) as Json;
    },
  };
}

/** Checks that the dev certificate verifies against $WARD_DATA_DIR/tls/ca.pem over TLS 1.3, as a real client would. */
async function verifyTls(url: string, ca: string): Promise<{ protocol: string | null; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}/healthz`, { ca, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (res) => {
      const socket = res.socket as TLSSocket;
      const info = { protocol: socket.getProtocol(), authorized: socket.authorized };
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(info) : reject(new Error(`healthz answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

function shuffled<T>(items: readonly T[], r: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

async function main(): Promise<number> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const measureOptions: MeasureOptions = {
    connections: settings.connections,
    seconds: settings.seconds,
    warmupSeconds: settings.warmupSeconds,
    resultsDir: RESULTS_DIR,
    stamp,
    log,
  };
  let searchStatus = 0;
  if (searchWanted.size > 0) {
    searchStatus = await runSearchLarge(
      {
        adminUrl: settings.adminUrl,
        patients: settings.searchPatients,
        seed: settings.seed,
        connections: settings.searchConnections,
        seconds: settings.seconds,
        warmupSeconds: settings.warmupSeconds,
        queriesPerScenario: settings.searchQueries,
        reuse: settings.searchReuse,
        drop: settings.searchDrop,
        cacheDir: settings.searchDir,
        scenarios: searchWanted,
        profile: settings.profile,
        resultsDir: RESULTS_DIR,
        stamp,
      },
      log,
    );
    if (!STANDARD.some(wanted)) return searchStatus;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'ward-bench-'));
  let db: BenchDatabase | undefined;
  let gen: LoadGenerator | undefined;
  let ward: RunningServer | undefined;
  let baseline: BaselineServer | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      gen?.stop();
      for (const stop of [() => ward?.stop(), () => baseline?.stop(), () => db?.drop()]) {
        try {
          await stop();
        } catch (e) {
          process.stderr.write(`[bench] cleanup step failed: ${(e as Error).message}\n`);
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
      if (db) log(`dropped database ${db.name} and its serving role; removed ${dataDir}`);
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`[bench] ${signal}: cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const idleLoad = await machineLoad(2000);
    if (idleLoad !== null) {
      log(`machine load before the run: ${idleLoad.toFixed(2)} cores busy`);
      if (idleLoad > OUTSIDE_LIMIT_CORES) log(`WARNING: the machine is not idle (${idleLoad.toFixed(2)} cores busy before starting)`);
    }
    const pgVersion = await serverVersion(settings.adminUrl);
    db = await createBenchDatabase(settings.adminUrl);
    log(`database ${db.name} on PostgreSQL ${pgVersion}; WARD_DATA_DIR ${dataDir}`);
    gen = await LoadGenerator.start();
    const results: ScenarioResult[] = [];
    const r = rng(settings.seed + 1);

    // ── Ward over loopback HTTP (WARD_INSECURE_HTTP=1) ────────────────────────────────
    const httpConfig = wardConfig(dataDir, db.url, await freePort(), false);
    ward = await startServer(httpConfig);
    const poolSize = httpConfig.dbPoolSize;
    const token = await mintToken(ward);
    log(`Ward at ${ward.url} (pool ${poolSize}, audit batch ≤ ${httpConfig.auditMaxBatch}); loading the population…`);
    const population: LoadedPopulation = await loadPopulation(poster(ward.url, token), SHAPE, settings.seed, 16);
    log(
      `loaded ${population.resourceCount} resources (${population.patientIds.length} patients, ${population.observations.length} Observations) in ${population.seconds.toFixed(1)} s`,
    );
    const readIds = shuffled(
      population.observations.map((o) => o.id as string),
      r,
    );
    // Bodies for create and bare insert: the same fresh Observations, cycling.
    const newBodies = Array.from({ length: 2000 }, () =>
      JSON.stringify(observationFactory(r, population.patientIds[Math.floor(r() * population.patientIds.length)] as string)),
    );
    const updates = shuffled(population.observations, r).map((o) => {
      const { meta: _meta, ...current } = o;
      return { path: `/fhir/Observation/${o.id}`, body: JSON.stringify(current) };
    });

    // The baseline runs beside Ward, and the comparisons are interleaved — bare, Ward, …, bare
    // again — because this VM's speed drifts over minutes: each bare scenario is measured at the
    // start and at the end, the ratios use the mean, and the drift between the two is reported.
    baseline = await startBaselineServer({ databaseUrl: db.url, poolSize, host: HOST, port: await freePort() });
    await baseline.load(population.observations);
    log(`baseline at ${baseline.url} (pool ${poolSize}) loaded with the same ${population.observations.length} Observation bodies`);
    const bare = (pass: '' | '-again'): { read: Scenario; insert: Scenario } => ({
      read: {
        name: `bare-read${pass}`,
        group: 'bare-read',
        description: 'GET /Observation/<id>: SELECT body by primary key (Fastify + pg, no auth/audit/crypto)',
        url: (baseline as BaselineServer).url,
        plan: { method: 'GET', paths: readIds.map((id) => `/Observation/${id}`) },
        headers: fhirHeaders(token, false),
        profile: settings.profile && pass === '',
      },
      insert: {
        name: `bare-insert${pass}`,
        group: 'bare-insert',
        description: 'POST /Observation: one autocommitted INSERT (Fastify + pg, no auth/audit/crypto)',
        url: (baseline as BaselineServer).url,
        plan: { method: 'POST', path: '/Observation', bodies: newBodies },
        headers: fhirHeaders(token, true),
        profile: settings.profile && pass === '',
      },
    });
    const wardHttp = ward.url;
    const sequence: Scenario[] = [
      bare('').read,
      {
        name: 'bare-read-audited',
        description: "the bare read, answered after its audit entry commits (Ward's grouped audit writer)",
        url: (baseline as BaselineServer).url,
        plan: { method: 'GET', paths: readIds.map((id) => `/audited/Observation/${id}`) },
        headers: fhirHeaders(token, false),
        baseline: 'bare-read',
        audited: true,
      },
      {
        name: 'ward-read',
        description: `GET /fhir/Observation/<id> over ${readIds.length} ids (HTTP)`,
        url: wardHttp,
        plan: { method: 'GET', paths: readIds.map((id) => `/fhir/Observation/${id}`) },
        headers: fhirHeaders(token, false),
        baseline: 'bare-read',
        profile: settings.profile,
        audited: true,
      },
      bare('').insert,
      {
        name: 'ward-create',
        description: 'POST /fhir/Observation (HTTP)',
        url: wardHttp,
        plan: { method: 'POST', path: '/fhir/Observation', bodies: newBodies },
        headers: fhirHeaders(token, true),
        baseline: 'bare-insert',
        profile: settings.profile,
        audited: true,
      },
      {
        name: 'ward-update',
        description: `PUT /fhir/Observation/<id> over ${updates.length} ids, no If-Match (HTTP)`,
        url: wardHttp,
        plan: { method: 'PUT', items: updates },
        headers: fhirHeaders(token, true),
        baseline: 'bare-insert',
        profile: settings.profile,
        audited: true,
      },
    ];
    for (const sc of sequence) if (wanted(sc.group ?? sc.name)) results.push(await measure(gen, db, sc, measureOptions));
    await ward.stop();
    ward = undefined;

    // ── Audit sealing and verification (issue 7), with Ward stopped ────────────────────
    let sealing: SealingFigures | null = null;
    if (wanted('audit-sealing') && settings.auditEntries > 0) {
      log(`audit-sealing: appending ${settings.auditEntries} entries, then sealing and verifying the whole log…`);
      sealing = await measureSealing(db.url, dataDir, settings.auditEntries);
      log(
        `audit-sealing: appended ${sealing.appendPerSecond.toFixed(0)} entries/s; sealed ${sealing.sealPerSecond.toFixed(0)} entries/s into ${sealing.heads} heads; verified ${sealing.verifyPerSecond.toFixed(0)} entries/s`,
      );
    }

    // ── Policy decisions per second (issue 6): pure, no database, with Ward stopped ──────
    let policy: PolicyDecisionFigures | null = null;
    if (wanted('policy-decisions')) {
      policy = measurePolicyDecisions();
      log(
        `policy-decisions: ${policy.decisionsPerSecond.toFixed(0)} decisions/s over ${policy.cases} cases (${policy.meanMicros.toFixed(2)} µs each)`,
      );
    }

    // ── Policy filtering on a 1,000-result search (issue 6): its own database, with Ward stopped ──
    let filtering: SearchFilteringFigures | null = null;
    if (wanted('search-filtering')) {
      filtering = await measureSearchFiltering(settings.adminUrl);
      log(filteringText(filtering));
    }

    // ── Ward over HTTPS (TLS 1.3, dev certificate) ─────────────────────────────────────
    let tlsCheck: { protocol: string | null; authorized: boolean } | null = null;
    if (wanted('ward-read-tls')) {
      ward = await startServer(wardConfig(dataDir, db.url, await freePort(), true));
      const caPem = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
      tlsCheck = await verifyTls(ward.url, caPem);
      log(`Ward at ${ward.url}: certificate verified against tls/ca.pem over ${tlsCheck.protocol}`);
      const tlsToken = await mintToken(ward);
      results.push(
        await measure(
          gen,
          db,
          {
            name: 'ward-read-tls',
            description: `GET /fhir/Observation/<id> over ${readIds.length} ids (HTTPS, TLS 1.3, keep-alive)`,
            url: ward.url,
            plan: { method: 'GET', paths: readIds.map((id) => `/fhir/Observation/${id}`) },
            headers: fhirHeaders(tlsToken, false),
            caPem,
            baseline: 'bare-read',
            profile: settings.profile,
            audited: true,
          },
          measureOptions,
        ),
      );
      await ward.stop();
      ward = undefined;
    }

    // ── The baseline again, to average over the run and expose drift ───────────────────
    for (const sc of [bare('-again').read, bare('-again').insert])
      if (wanted(sc.group ?? sc.name)) results.push(await measure(gen, db, sc, measureOptions));
    await baseline.stop();
    baseline = undefined;

    // ── Report ─────────────────────────────────────────────────────────────────────────
    const goals = computeRatios(results);
    const share = auditShare(results);
    const drift = baselineDrift(results);
    const drifting = drift.filter((d) => Math.abs(d.drift) > DRIFT_LIMIT);
    const errors = results.filter((x) => x.load.errors > 0 || x.load.non2xx > 0);
    const busyElsewhere = results
      .map((x) => ({ scenario: x.name, cores: outsideCores(x) }))
      .filter((x): x is { scenario: string; cores: number } => x.cores !== null && x.cores > OUTSIDE_LIMIT_CORES);
    const out = [
      '',
      `Ward benchmark — ${settings.connections} connections, ${settings.seconds} s per scenario (after ${settings.warmupSeconds} s warm-up)`,
      `${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, PostgreSQL ${pgVersion}, pool ${poolSize}`,
      '',
      figuresTable(results),
      '',
      cpuTable(results),
      '',
      goalsText(goals),
      share ? auditShareText(share) : '',
      sealing
        ? `${sealing.sealPerSecond >= 5000 ? 'MET    ' : 'NOT MET'}  audit sealing at ${sealing.sealPerSecond.toFixed(0)} entries/s (goal ≥ 5000); verification ${sealing.verifyPerSecond.toFixed(0)} entries/s`
        : '',
      policy
        ? `policy decisions: ${policy.decisionsPerSecond.toFixed(0)} per second, ${policy.meanMicros.toFixed(2)} µs each (pure decide over ${policy.cases} cases)`
        : '',
      filtering ? filteringText(filtering) : '',
      drift.length > 0 ? `\n${driftText(drift)}` : '',
      drifting.length > 0
        ? `\nWARNING: the baseline drifted by more than ${DRIFT_LIMIT * 100} % between the start and the end of the run (${drifting.map((d) => d.group).join(', ')}): the machine's speed changed during the run; treat the ratios with care.`
        : '',
      busyElsewhere.length > 0
        ? `\nWARNING: CPU outside the benchmark's processes (other programs, kernel threads) during ${busyElsewhere.map((x) => `${x.scenario} (${x.cores.toFixed(2)} cores)`).join(', ')}; those figures understate what this machine can do.`
        : '',
      settings.profile
        ? '\nNOTE: profiled run (BENCH_PROFILE=1): the profiler slows Ward; these figures are not comparable to an unprofiled run.'
        : '',
    ];
    process.stdout.write(
      `${out
        .join('\n')
        .replace(/\n{3,}/g, '\n\n')
        .trimEnd()}\n`,
    );
    for (const x of results) if (x.profile) process.stdout.write(`\n${profileText(x)}\n`);
    const path = writeResults(RESULTS_DIR, stamp, {
      startedAt: stamp,
      settings: { ...settings, only: settings.only ? [...settings.only] : null, adminUrl: undefined },
      machine: {
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model ?? null,
        memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
        node: process.version,
        postgres: pgVersion,
      },
      machineLoadBeforeRun: idleLoad,
      ward: { poolSize, auditMaxBatch: httpConfig.auditMaxBatch, tls: tlsCheck },
      population: {
        shape: SHAPE,
        resources: population.resourceCount,
        observations: population.observations.length,
        loadSeconds: population.seconds,
      },
      results,
      goals,
      auditShare: share,
      sealing,
      policy,
      searchFiltering: filtering,
      markdown: markdownTable(results),
      baselineDrift: drift,
      busyElsewhere,
      errors: errors.map((x) => ({ scenario: x.name, errors: x.load.errors, non2xx: x.load.non2xx, statusCodes: x.load.statusCodes })),
    });
    log(`results written to ${path}`);
    if (errors.length > 0) {
      const banner = '!'.repeat(78);
      process.stderr.write(
        `\n${banner}\n!! THIS RUN HAD ERRORS — its figures are not valid:\n${errors
          .map(
            (x) =>
              `!!   ${x.name}: ${x.load.errors} connection errors/timeouts, ${x.load.non2xx} non-2xx ${JSON.stringify(x.load.statusCodes)}`,
          )
          .join('\n')}\n${banner}\n`,
      );
      return 1;
    }
    return searchStatus;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`\n[bench] FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
