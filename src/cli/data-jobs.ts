import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import type { WardConfig } from '../app/config.js';
import { importContext, importFiles, importFilesOf } from '../app/import-command.js';
import { operatorContext, operatorPrincipal } from '../app/operator-commands.js';
import { reindex } from '../app/reindex-command.js';
import { openWard, type Ward } from '../app/ward.js';

/** `ward migrate`, `ward import` and `ward reindex`: jobs that open the store themselves. */

export async function runMigrate(config: WardConfig): Promise<number> {
  if (!config.databaseUrl && serverRunning(config)) {
    process.stderr.write('the server is running and migrated this data directory at start; nothing to do\n');
    return 0;
  }
  // Opening migrates as the owner and then serves as the app role, which has no DDL rights.
  const ward = await openWard(config, { migrate: true });
  const applied = ward.migrated;
  const versions = (await ward.db.query<{ version: number }>('SELECT version FROM ward_migration ORDER BY version')).rows.map(
    (r) => r.version,
  );
  await ward.vault.recordAdministrative(operatorPrincipal(), operatorContext('cli'), 'migrate', {
    status: 200,
    detail: { schema: versions.join(' '), applied: applied.join(' ') || 'none pending' },
  });
  await ward.close();
  process.stderr.write('migrations are up to date\n');
  return 0;
}

/** A long job owns the store: with embedded PGlite it refuses to run beside a server that owns it. */
async function openForJob(config: WardConfig): Promise<Ward | undefined> {
  if (!config.databaseUrl && serverRunning(config)) {
    process.stderr.write('a Ward server owns this data directory; stop it first (or use DATABASE_URL with PostgreSQL)\n');
    return undefined;
  }
  return openWard(config, { migrate: true });
}

function progressBar(label: string, unit: string): SingleBar | undefined {
  return process.stderr.isTTY
    ? new SingleBar({ format: `${label} {bar} {value}/{total} ${unit} | {rate}/s`, hideCursor: true }, Presets.shades_classic)
    : undefined;
}

export async function runImport(config: WardConfig, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { concurrency: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (
    positionals.length === 0 ||
    (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 16))
  ) {
    process.stderr.write('usage: ward import [--concurrency 1-16] <file or directory> …\n');
    return 2;
  }
  const files = importFilesOf(positionals);
  const ward = await openForJob(config);
  if (!ward) return 1;
  const bar = progressBar('importing', 'files');
  const started = Date.now();
  try {
    bar?.start(files.length, 0, { rate: '0' });
    const report = await importFiles(
      ward,
      importContext(),
      files,
      join(config.dataDir, 'import-state.json'),
      (e) => {
        const rate = (e.resources / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(0);
        bar?.update(e.filesDone, { rate });
        if (!bar && e.file) {
          process.stdout.write(
            `import: file ${e.file.index + 1}/${e.files} ${e.file.ok ? 'done' : `FAILED ${e.file.code}${e.file.entry ? ` at ${e.file.entry}` : ''}`}, ${e.resources} resources, ${rate} resources/s\n`,
          );
        }
      },
      concurrency === undefined ? {} : { concurrency },
    );
    bar?.stop();
    process.stdout.write(
      `imported ${report.resources} resources from ${report.files - report.skipped} files (${report.skipped} already done, ${report.failed} failed) in ${report.seconds.toFixed(1)} s: ${report.perSecond.toFixed(0)} resources/s\n`,
    );
    return report.failed > 0 ? 1 : 0;
  } finally {
    bar?.stop();
    await ward.close();
  }
}

export async function runReindex(config: WardConfig, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { type: { type: 'string' } }, strict: true });
  const ward = await openForJob(config);
  if (!ward) return 1;
  const bar = progressBar('reindexing', 'resources');
  const started = Date.now();
  try {
    bar?.start(1, 0, { rate: '0' });
    const report = await reindex(ward, importContext(), values.type, join(config.dataDir, 'reindex-state.json'), (done, total) => {
      const rate = (done / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(0);
      bar?.setTotal(Math.max(total, 1));
      bar?.update(done, { rate });
      if (!bar) process.stdout.write(`reindex: ${done}/${total} resources, ${rate} resources/s\n`);
    });
    bar?.stop();
    process.stdout.write(
      `reindexed ${report.reindexed} resources${report.resumed ? ' (resumed)' : ''}${report.skipped ? `, ${report.skipped} skipped by policy` : ''} in ${report.seconds.toFixed(1)} s: ${report.perSecond.toFixed(0)} resources/s\n`,
    );
    return 0;
  } finally {
    bar?.stop();
    await ward.close();
  }
}

export function serverRunning(config: WardConfig): boolean {
  const pidFile = join(config.dataDir, 'server.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
