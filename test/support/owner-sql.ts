import pg from 'pg';
import type { TestWard } from './engines.js';

/** Runs SQL as the database owner: a separate `pg` client on PostgreSQL, the only connection on PGlite. */
export async function asOwner(t: TestWard, sql: string, params: unknown[] = []): Promise<void> {
  await withOwner(t, async (run) => {
    await run(sql, params);
  });
}

/**
 * Runs SQL as a superuser with triggers off (`session_replication_role = replica`), the way an
 * attacker with database superuser rights would edit the audit tables past their append-only
 * triggers. Several statements may be given, separated by semicolons.
 */
export async function asSuperuserPastTriggers(t: TestWard, sql: string): Promise<void> {
  await withOwner(t, async (run, exec) => {
    await run('SET session_replication_role = replica');
    try {
      await exec(sql);
    } finally {
      await run('SET session_replication_role = origin');
    }
  });
}

type Run = (sql: string, params?: unknown[]) => Promise<unknown>;

async function withOwner(t: TestWard, fn: (run: Run, exec: (sql: string) => Promise<unknown>) => Promise<void>): Promise<void> {
  if (!t.ownerUrl) {
    await fn(
      (sql, params) => t.ward.db.query(sql, params),
      (sql) => t.ward.db.exec(sql),
    );
    return;
  }
  const owner = new pg.Client({ connectionString: t.ownerUrl });
  await owner.connect();
  try {
    await fn(
      (sql, params) => owner.query(sql, params),
      (sql) => owner.query(sql),
    );
  } finally {
    await owner.end();
  }
}
