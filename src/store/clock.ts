import type { Queryable } from './database.js';

/** The database server's clock, in milliseconds since the epoch (a reference for the app's clock). */
export async function readDatabaseTimeMs(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ ms: unknown }>(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`);
  return Number(rows[0]?.ms);
}
