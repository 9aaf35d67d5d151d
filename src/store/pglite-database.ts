import { PGlite } from '@electric-sql/pglite';
import type { Database, Queryable, QueryResult } from './database.js';

/**
 * Embedded PGlite (PostgreSQL in WebAssembly) in a data directory. One process owns the
 * directory; PGlite serialises queries and transactions on its single connection.
 */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  const db = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  const query = async <R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    const result = await db.query<R>(sql, params as unknown[] | undefined);
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  };
  return {
    engine: 'pglite',
    query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction(async (t) =>
        fn({
          async query<R>(sql: string, params?: readonly unknown[]) {
            const result = await t.query<R>(sql, params as unknown[] | undefined);
            return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
          },
        }),
      );
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    async close() {
      await db.close();
    },
  };
}
