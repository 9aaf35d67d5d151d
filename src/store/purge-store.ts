import type { Queryable } from './database.js';

/**
 * Removes one resource with every version, its current pointer and its search-index rows, through
 * the owner's `ward_purge_resource` (migration 21): the serving role has no DELETE on versions.
 * Returns how many versions were removed. Call it inside the transaction that appends the audit entry.
 */
export async function purgeResource(q: Queryable, resourceType: string, id: string): Promise<number> {
  const { rows } = await q.query<{ removed: unknown }>('SELECT ward_purge_resource($1, $2) AS removed', [resourceType, id]);
  return Number(rows[0]?.removed ?? 0);
}
