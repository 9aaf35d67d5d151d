import pg from 'pg';
import type { Database, Queryable, QueryResult } from './database.js';

/** PostgreSQL through a pg pool; a transaction holds one client from BEGIN to COMMIT. */
export function openPostgres(connectionString: string, options: { max?: number; applicationName?: string } = {}): Database {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 20,
    application_name: options.applicationName ?? 'ward',
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);

  const query = async <R>(sql: string, params?: readonly unknown[], name?: string): Promise<QueryResult<R>> => {
    const result = await pool.query({ text: sql, values: params as unknown[] | undefined, ...(name ? { name } : {}) });
    return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
  };

  return {
    engine: 'postgres',
    query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R>(sql: string, params?: readonly unknown[], name?: string) {
            const result = await client.query({ text: sql, values: params as unknown[] | undefined, ...(name ? { name } : {}) });
            return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
          },
        };
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async close() {
      await pool.end();
    },
  };
}
