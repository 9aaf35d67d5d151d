import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate, openPostgres } from '../../src/store/index.js';

/**
 * Once per run: create this run's PostgreSQL template database (migrated), which each test file
 * clones; drop every database and role of the run at the end. With CI=true, PostgreSQL must be
 * reachable; elsewhere the PostgreSQL half of the suite is skipped when it is not.
 */
const ADMIN_URL = process.env.WARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string | null;
    pgTemplate: string | null;
    runId: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `ward_t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  project.provide('runId', runId);
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch (e) {
    if (process.env.CI === 'true')
      throw new Error(`PostgreSQL is required when CI=true but ${redact(ADMIN_URL)} is unreachable: ${(e as Error).message}`);
    process.stderr.write(`PostgreSQL at ${redact(ADMIN_URL)} is unreachable; running the PGlite half of the suite only\n`);
    project.provide('pgAdminUrl', null);
    project.provide('pgTemplate', null);
    return async () => undefined;
  }
  const template = `${runId}_tpl`;
  await admin.query(`CREATE DATABASE ${template}`);
  const templateDb = openPostgres(withDatabase(ADMIN_URL, template), { max: 1 });
  await migrate(templateDb);
  await templateDb.close();
  project.provide('pgAdminUrl', ADMIN_URL);
  project.provide('pgTemplate', template);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${runId}%`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    const roles = await admin.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`ward_app_${runId}%`]);
    for (const { rolname } of roles.rows) await admin.query(`DROP ROLE IF EXISTS ${rolname}`);
    await admin.end();
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function redact(url: string): string {
  const u = new URL(url);
  u.password = u.password ? '***' : '';
  return u.toString();
}
