/**
 * `BENCH_ONLY=search-large npm run bench`: FHIR search on a large generated population on
 * PostgreSQL (issue 4). Loads (or reuses) the population with `ward import`, starts Ward on it,
 * checks that a sample of each scenario's requests returns exactly the expected resources, shows
 * the query plans of one request of each, then measures each scenario as the benchmark physician.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningServer, startServer } from '../src/app/server.js';
import { machineLoad } from './cpu.js';
import { serverVersion } from './database.js';
import { LoadGenerator, measure } from './measure.js';
import type { ScenarioResult } from './report.js';
import { dropSearchDatabase, loadAverage, prepareSearchDatabase, type SearchDatabase } from './search-database.js';
import { captureQueries, type ExplainedStatement, explain, explainText, suspicious } from './search-explain.js';
import { SEARCH_SCENARIOS, type SearchScenarioName, verifyPlans } from './search-queries.js';
import { searchMarkdown, searchTable } from './search-report.js';
import { fhirHeaders, freePort, mintToken, wardConfig } from './ward-server.js';

export interface SearchLargeSettings {
  readonly adminUrl: string;
  readonly patients: number;
  readonly seed: number;
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly queriesPerScenario: number;
  readonly reuse: boolean;
  /** Drop the database and its directory at the end instead of keeping them for BENCH_SEARCH_REUSE=1. */
  readonly drop: boolean;
  readonly cacheDir: string;
  readonly scenarios: ReadonlySet<SearchScenarioName>;
  readonly profile: boolean;
  readonly resultsDir: string;
  readonly stamp: string;
}

/** The issue's goal for each search at 16 connections on 100 000 patients. */
export const P99_GOAL_MS = 50;

/** Runs the search scenarios; returns the exit status (1 when a request failed). */
export async function runSearchLarge(s: SearchLargeSettings, log: (line: string) => void): Promise<number> {
  let search: SearchDatabase | undefined;
  let ward: RunningServer | undefined;
  let gen: LoadGenerator | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      gen?.stop();
      for (const step of [() => ward?.stop(), () => (search && s.drop ? dropSearchDatabase(search) : search?.db.close())]) {
        try {
          await step();
        } catch (e) {
          process.stderr.write(`[bench] cleanup step failed: ${(e as Error).message}\n`);
        }
      }
      if (search) {
        log(
          s.drop
            ? `dropped ${search.db.name} and ${search.dir}`
            : `kept ${search.db.name} and ${search.dir} for BENCH_SEARCH_REUSE=1 (BENCH_SEARCH_DROP=1 drops them at the end of a run)`,
        );
      }
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
    const idle = await machineLoad(2000);
    const loadBefore = loadAverage();
    log(`search-large: machine load ${idle === null ? 'n/a' : `${idle.toFixed(2)} cores busy`}, load average ${loadBefore}`);
    const pgVersion = await serverVersion(s.adminUrl);
    search = await prepareSearchDatabase({
      adminUrl: s.adminUrl,
      patients: s.patients,
      seed: s.seed,
      queriesPerScenario: s.queriesPerScenario,
      reuse: s.reuse,
      cacheDir: s.cacheDir,
      log,
    });
    const { manifest, db } = search;
    const imp = manifest.import;
    log(
      `population: ${manifest.population.patients} patients, ${manifest.population.resources} resources; ward import ${imp.perSecond} resources/s (${imp.seconds.toFixed(1)} s; process wall ${imp.wallSeconds.toFixed(1)} s; load average ${imp.loadAverage})${search.reused ? ', loaded by an earlier run' : ''}`,
    );

    const config = wardConfig(search.dataDir, db.url, await freePort(), false);
    ward = await startServer(config);
    const headers = fhirHeaders(await mintToken(ward), false);
    const wardUrl = ward.url;
    const checked = await verifyPlans(wardUrl, headers, manifest.plans);
    log(`verified ${checked} responses: each returned exactly the expected resources`);

    const plans: Record<string, ExplainedStatement[]> = {};
    for (const name of SEARCH_SCENARIOS) {
      const path = manifest.plans[name].checks[0]?.path as string;
      const statements = await captureQueries(async () => {
        await (await fetch(`${wardUrl}${path}`, { headers })).arrayBuffer();
      });
      const explained = await explain(db.url, statements);
      plans[name] = explained;
      const sum = (f: (x: ExplainedStatement) => number) => explained.reduce((a, x) => a + f(x), 0).toFixed(2);
      log(
        `${name}: ${explained.length} statements, ${sum((x) => x.executionMs)} ms of execution and ${sum((x) => x.planningMs)} ms of planning in all`,
      );
      for (const [i, x] of explained.entries()) {
        if (!suspicious(x)) continue;
        log(
          `  statement ${i + 1}: ${x.executionMs.toFixed(2)} ms, ${x.rows} rows returned, ${x.mostRowsInANode} rows in one plan node${x.seqScans.length ? `, SEQUENTIAL SCAN on ${x.seqScans.join(', ')}` : ''} — …${x.sql.slice(Math.max(0, x.sql.indexOf(' WHERE ')), x.sql.indexOf(' WHERE ') + 220)}…`,
        );
      }
    }
    const explainFile = join(s.resultsDir, `${s.stamp}-search-explain.txt`);
    writeFileSync(explainFile, `${explainText(plans)}\n`);
    log(`query plans written to ${explainFile}`);

    gen = await LoadGenerator.start();
    const results: ScenarioResult[] = [];
    const options = {
      connections: s.connections,
      seconds: s.seconds,
      warmupSeconds: s.warmupSeconds,
      resultsDir: s.resultsDir,
      stamp: s.stamp,
      log,
    };
    for (const name of SEARCH_SCENARIOS) {
      if (!s.scenarios.has(name)) continue;
      const plan = manifest.plans[name];
      const description = `${plan.description}: ${plan.paths.length} values, ${plan.meanMatches.toFixed(1)} matches on average`;
      results.push(
        await measure(
          gen,
          db,
          { name, description, url: wardUrl, plan: { method: 'GET', paths: plan.paths }, headers, profile: s.profile, audited: true },
          options,
        ),
      );
    }
    const loadAfter = loadAverage();
    const heading = `Ward search benchmark — ${manifest.population.patients} patients, ${manifest.population.resources} resources, PostgreSQL ${pgVersion}; ${s.connections} connections, ${s.seconds} s per scenario (after ${s.warmupSeconds} s warm-up); load average ${loadBefore} before, ${loadAfter} after`;
    process.stdout.write(`\n${heading}\n\n${searchTable(results, P99_GOAL_MS)}\n`);
    const path = join(s.resultsDir, `${s.stamp}-search-large.json`);
    writeFileSync(
      path,
      `${JSON.stringify(
        {
          startedAt: s.stamp,
          settings: { ...s, adminUrl: undefined, scenarios: [...s.scenarios] },
          postgres: pgVersion,
          machineLoadBeforeRun: idle,
          loadAverage: { before: loadBefore, after: loadAfter },
          database: db.name,
          reused: search.reused,
          population: manifest.population,
          import: manifest.import,
          verifiedResponses: checked,
          results,
          markdown: searchMarkdown(results),
          plans,
        },
        null,
        2,
      )}\n`,
    );
    log(`results written to ${path}`);
    const failed = results.filter((x) => x.load.errors > 0 || x.load.non2xx > 0);
    if (failed.length > 0) {
      process.stderr.write(
        `\n!! search-large HAD ERRORS — its figures are not valid: ${failed.map((x) => `${x.name} ${x.load.errors} errors, ${x.load.non2xx} non-2xx ${JSON.stringify(x.load.statusCodes)}`).join('; ')}\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
