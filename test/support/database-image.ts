import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWard } from './engines.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    return d.isDirectory() ? filesUnder(path) : d.isFile() ? [path] : [];
  });
}

/** Everything the database holds, as bytes: a pg_dump on PostgreSQL, every PGlite file after a checkpoint. */
export async function databaseImage(t: TestWard): Promise<Buffer[]> {
  if (t.ownerUrl) return [execFileSync('pg_dump', ['--dbname', t.ownerUrl], { maxBuffer: 512 * 1024 * 1024 })];
  await t.ward.db.query('CHECKPOINT');
  return filesUnder(join(t.config.dataDir, 'pglite')).map((f) => readFileSync(f));
}
