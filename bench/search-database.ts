/**
 * The database of the large search benchmark: generated, loaded with the real `ward import`, and
 * kept between runs (with its WARD_DATA_DIR, which holds the keys its bodies and blind indexes
 * were written under), because a full-size load takes long. It is named by seed, size and
 * generator version, so a kept database is reused only for the population it holds.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type BenchDatabase, createBenchDatabase, databaseExists, openBenchDatabase } from './database.js';
import { GENERATOR_VERSION, type GeneratedPopulation, writePopulation } from './search-population.js';

const WARD_CLI = fileURLToPath(new URL('../dist/cli/ward.js', import.meta.url));

export interface ImportFigures {
  /** As `ward import` printed it. */
  readonly resources: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Wall time of the `ward import` process (start-up, migrations and the final audit entry included). */
  readonly wallSeconds: number;
  /** `VACUUM (ANALYZE)` after the load, so that the planner knows the tables (not part of the import figure). */
  readonly vacuumSeconds: number;
  /** `uptime`'s load averages when the import ended. */
  readonly loadAverage: string;
  /** The load resumed an interrupted one: the figures then cover only the part this run imported. */
  readonly resumed?: boolean;
}

/** Written when a population is completely loaded; its presence (and the row counts) make a database reusable. */
export interface SearchManifest {
  readonly key: string;
  readonly database: string;
  readonly seed: number;
  readonly generatorVersion: number;
  readonly population: Omit<GeneratedPopulation, 'plans'>;
  readonly plans: GeneratedPopulation['plans'];
  readonly import: ImportFigures;
  readonly loadedAt: string;
}

export interface SearchDatabaseOptions {
  readonly adminUrl: string;
  readonly patients: number;
  readonly seed: number;
  readonly queriesPerScenario: number;
  /** Reuse a complete database of the same key instead of generating and importing again. */
  readonly reuse: boolean;
  /** Holds one directory per key: the manifest, WARD_DATA_DIR, and the NDJSON while it is imported. */
  readonly cacheDir: string;
  readonly log: (line: string) => void;
}

export interface SearchDatabase {
  readonly db: BenchDatabase;
  readonly dataDir: string;
  readonly dir: string;
  readonly manifest: SearchManifest;
  readonly reused: boolean;
}

export function searchKey(seed: number, patients: number): string {
  return `s${seed}-p${patients}-g${GENERATOR_VERSION}`;
}

/** The kept database of a key, reused when complete, otherwise (re)built: generated, imported, vacuumed. */
export async function prepareSearchDatabase(o: SearchDatabaseOptions): Promise<SearchDatabase> {
  const key = searchKey(o.seed, o.patients);
  const name = `ward_bench_search_${key.replaceAll('-', '_')}`;
  const dir = join(o.cacheDir, key);
  const dataDir = join(dir, 'data');
  const manifestPath = join(dir, 'population.json');
  if (o.reuse && existsSync(manifestPath) && (await databaseExists(o.adminUrl, name))) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as SearchManifest;
    const db = await openBenchDatabase(o.adminUrl, name);
    const held = await currentCount(db.url);
    if (manifest.database === name && held === manifest.population.resources) {
      o.log(`reusing ${name} (${held} resources, loaded ${manifest.loadedAt}) and WARD_DATA_DIR ${dataDir}`);
      return { db, dataDir, dir, manifest, reused: true };
    }
    o.log(`${name} holds ${held} resources, not the ${manifest.population.resources} of its manifest: loading it again`);
    await db.close();
  }
  // A load that was interrupted is resumed rather than restarted (with BENCH_SEARCH_REUSE=1):
  // the NDJSON is generated again, byte for byte, and `ward import` skips what it committed.
  const buildingPath = join(dir, 'building.json');
  const resuming = o.reuse && existsSync(buildingPath) && existsSync(dataDir) && (await databaseExists(o.adminUrl, name));
  let db: BenchDatabase;
  if (resuming) {
    o.log(`resuming the interrupted load of ${name} (WARD_DATA_DIR ${dataDir})`);
    db = await openBenchDatabase(o.adminUrl, name);
  } else {
    if (await databaseExists(o.adminUrl, name)) await (await openBenchDatabase(o.adminUrl, name)).drop();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    db = await createBenchDatabase(o.adminUrl, name);
    writeFileSync(buildingPath, JSON.stringify({ key, startedAt: new Date().toISOString() }));
  }
  try {
    const ndjsonDir = join(dir, 'ndjson');
    o.log(`generating ${o.patients} patients (seed ${o.seed}) as NDJSON in ${ndjsonDir}…`);
    const generated = writePopulation(ndjsonDir, o.patients, o.seed, o.queriesPerScenario);
    o.log(
      `generated ${generated.resources} resources in ${generated.files} files in ${generated.seconds.toFixed(1)} s: ${JSON.stringify(generated.byType)}`,
    );
    const imported = await wardImport(ndjsonDir, dataDir, db.url, o.log);
    const held = await currentCount(db.url);
    if (held !== generated.resources) throw new Error(`the database holds ${held} resources of the ${generated.resources} generated`);
    o.log('VACUUM (ANALYZE) after the load…');
    const vacuumStarted = performance.now();
    await inDatabase(db.url, (c) => c.query('VACUUM (ANALYZE)'));
    const vacuumSeconds = (performance.now() - vacuumStarted) / 1000;
    rmSync(ndjsonDir, { recursive: true, force: true });
    const { plans, ...population } = generated;
    const manifest: SearchManifest = {
      key,
      database: name,
      seed: o.seed,
      generatorVersion: GENERATOR_VERSION,
      population,
      plans,
      import: { ...imported, vacuumSeconds, resumed: resuming },
      loadedAt: new Date().toISOString(),
    };
    writeFileSync(manifestPath, JSON.stringify(manifest));
    rmSync(buildingPath, { force: true });
    return { db, dataDir, dir, manifest, reused: false };
  } catch (e) {
    // Kept for BENCH_SEARCH_REUSE=1 to resume; without it the next run starts clean.
    o.log(`the load of ${name} did not finish; BENCH_SEARCH_REUSE=1 resumes it`);
    await db.close();
    throw e;
  }
}

/** Drops a kept database, its serving role and its directory. */
export async function dropSearchDatabase(s: SearchDatabase): Promise<void> {
  await s.db.drop();
  rmSync(s.dir, { recursive: true, force: true });
}

async function inDatabase<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, application_name: 'ward-bench-admin' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function currentCount(url: string): Promise<number> {
  try {
    const { rows } = await inDatabase(url, (c) =>
      c.query<{ n: string }>('SELECT count(*)::text AS n FROM ward_resource WHERE NOT deleted'),
    );
    return Number(rows[0]?.n ?? 0);
  } catch {
    return -1; // not a Ward database (yet)
  }
}

const IMPORTED = /^imported (\d+) resources .* in ([\d.]+) s: (\d+) resources\/s$/m;

/** Runs the real CLI, `node dist/cli/ward.js import <dir>`, echoing its per-file lines, and reads its summary. */
async function wardImport(
  dir: string,
  dataDir: string,
  databaseUrl: string,
  log: (line: string) => void,
): Promise<Omit<ImportFigures, 'vacuumSeconds'>> {
  if (!existsSync(WARD_CLI)) throw new Error(`${WARD_CLI} is missing: run npm run build (npm run bench does)`);
  log(`node dist/cli/ward.js import ${dir}`);
  const started = performance.now();
  const child = spawn(process.execPath, [WARD_CLI, 'import', dir], {
    env: { ...process.env, WARD_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, WARD_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The bench is interrupted: take the import down with it.
  const stop = () => child.kill('SIGTERM');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    for (const line of chunk.split('\n')) if (line.trim()) log(`  ${line.trim()}`);
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  const wallSeconds = (performance.now() - started) / 1000;
  const m = IMPORTED.exec(out);
  if (code !== 0 || !m) throw new Error(`ward import exited with ${code}${m ? '' : ' and no summary line'}`);
  return { resources: Number(m[1]), seconds: Number(m[2]), perSecond: Number(m[3]), wallSeconds, loadAverage: loadAverage() };
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}
