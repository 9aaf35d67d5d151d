import { asNumber, type Queryable } from './database.js';
import { type StoredVersion, toStoredVersion, VERSION_COLUMNS } from './resource-store.js';
import { replaceSearchRowsCtes, type SearchIndexRows, searchRowsParam } from './search-index-store.js';

/** Where a reindex stands: the last (type, id) done, in that order. */
export interface ReindexCursor {
  readonly resourceType: string;
  readonly id: string;
}

/** Current, non-deleted versions in (type, id) order after the cursor, of one type or all. */
export async function readCurrentAfter(
  q: Queryable,
  options: { resourceType?: string; after?: ReindexCursor; limit: number },
): Promise<StoredVersion[]> {
  const params: unknown[] = [];
  const where = ['NOT r.deleted'];
  if (options.resourceType !== undefined) {
    params.push(options.resourceType);
    where.push(`r.resource_type = $${params.length}`);
  }
  if (options.after) {
    params.push(options.after.resourceType, options.after.id);
    where.push(`(r.resource_type, r.id) > ($${params.length - 1}, $${params.length})`);
  }
  params.push(options.limit);
  const { rows } = await q.query(
    `SELECT ${VERSION_COLUMNS} FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE ${where.join(' AND ')} ORDER BY r.resource_type, r.id LIMIT $${params.length}`,
    params,
  );
  return rows.map(toStoredVersion);
}

/** How many current, non-deleted resources there are (of one type or all): a reindex's total. */
export async function countCurrent(q: Queryable, resourceType?: string): Promise<number> {
  const { rows } = await q.query<{ n: unknown }>(
    `SELECT count(*) AS n FROM ward_resource r WHERE NOT r.deleted${resourceType !== undefined ? ' AND r.resource_type = $1' : ''}`,
    resourceType !== undefined ? [resourceType] : [],
  );
  return asNumber(rows[0]?.n ?? 0);
}

const REPLACE = `WITH v AS (SELECT 1)${replaceSearchRowsCtes(3)} SELECT 1`;

/** Replaces one resource's search rows with those given (the same CTEs commitWrite splices in). */
export async function replaceSearchRows(q: Queryable, resourceType: string, id: string, rows: SearchIndexRows): Promise<void> {
  await q.query(REPLACE, [resourceType, id, searchRowsParam(rows)], 'ward_replace_search_rows');
}
