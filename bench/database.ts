import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { appRoleName } from '../src/store/index.js';
import type { Backends } from './cpu.js';

/** A throw-away PostgreSQL database for one benchmark run, and the serving role Ward provisions in it. */
export interface BenchDatabase {
  readonly name: string;
  /** Owner (superuser) URL of the bench database: Ward's DATABASE_URL and the baseline's. */
  readonly url: string;
  /** Flushes dirty buffers so that one scenario's writes are not checkpointed during the next. */
  checkpoint(): Promise<void>;
  /** Which PostgreSQL processes serve this database, and which serve other databases' clients. */
  backends(): Promise<Backends>;
  /** The newest audit sequence number (0 when none). */
  auditHead(): Promise<number>;
  /** Audit entries after `afterSeq`, and how many commits (distinct inserting transactions) carried them. */
  auditSince(afterSeq: number): Promise<{ entries: number; commits: number }>;
  /** Drops the database and Ward's serving role; safe to call twice. */
  drop(): Promise<void>;
  /** Closes the admin connection and keeps the database (a reusable one); safe to call twice. */
  close(): Promise<void>;
}

/** Creates a database, named `name` or `ward_bench_<random>`. */
export async function createBenchDatabase(adminUrl: string, name = `ward_bench_${randomBytes(5).toString('hex')}`): Promise<BenchDatabase> {
  const admin = await adminClient(adminUrl);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (e) {
    await admin.end();
    throw e;
  }
  return attach(admin, adminUrl, name);
}

/** Attaches to an existing database, e.g. one kept from an earlier run. */
export async function openBenchDatabase(adminUrl: string, name: string): Promise<BenchDatabase> {
  return attach(await adminClient(adminUrl), adminUrl, name);
}

export async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  const admin = await adminClient(adminUrl);
  try {
    return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

async function adminClient(adminUrl: string): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: adminUrl, application_name: 'ward-bench-admin' });
  await admin.connect();
  return admin;
}

function attach(admin: pg.Client, adminUrl: string, name: string): BenchDatabase {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  const inBenchDb = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url.toString(), application_name: 'ward-bench-admin' });
    await c.connect();
    try {
      return await c.query<R>(sql, params);
    } finally {
      await c.end();
    }
  };
  return {
    name,
    url: url.toString(),
    async backends() {
      const { rows } = await admin.query<{ pid: number; datname: string | null; backend_type: string }>(
        'SELECT pid, datname, backend_type FROM pg_stat_activity WHERE pid <> pg_backend_pid()',
      );
      return {
        bench: rows.filter((r) => r.datname === name).map((r) => r.pid),
        foreign: rows.filter((r) => r.datname !== name && r.backend_type === 'client backend').map((r) => r.pid),
      };
    },
    async auditHead() {
      const { rows } = await inBenchDb<{ head: string }>('SELECT coalesce(max(seq), 0)::text AS head FROM ward_audit_entry');
      return Number(rows[0]?.head ?? 0);
    },
    async auditSince(afterSeq) {
      // Rows written by one multi-row INSERT share their transaction id (xmin).
      const { rows } = await inBenchDb<{ entries: number; commits: number }>(
        'SELECT count(*)::int AS entries, count(DISTINCT xmin::text)::int AS commits FROM ward_audit_entry WHERE seq > $1',
        [afterSeq],
      );
      return rows[0] ?? { entries: 0, commits: 0 };
    },
    async checkpoint() {
      await admin.query('CHECKPOINT');
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.query(`DROP ROLE IF EXISTS ${appRoleName(name)}`);
      } finally {
        await admin.end();
      }
    },
    async close() {
      if (dropped) return;
      dropped = true;
      await admin.end();
    },
  };
}

/** The PostgreSQL server version, for the report. */
export async function serverVersion(adminUrl: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
    return rows[0]?.v ?? 'unknown';
  } finally {
    await c.end();
  }
}
