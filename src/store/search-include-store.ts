import type { Queryable } from './database.js';
import { type StoredVersion, toStoredVersion, versionColumnsOf } from './resource-store.js';
import { shapeName } from './statement-names.js';

/** Which reference rows to follow: one parameter (or any, `'*'`), optionally only to one target type. */
export interface IncludeEdge {
  readonly param: string | '*';
  readonly targetType: string | undefined;
}

/**
 * `_include`: the current, non-deleted resources that resources `sourceIds` of `sourceType`
 * reference through the edge, a page of them in (type, id) order. Driven by the reference
 * table's (resource_type, id) index, then the resource primary key.
 */
export async function referencedResources(
  q: Queryable,
  sourceType: string,
  sourceIds: readonly string[],
  edge: IncludeEdge,
  page: { limit: number; offset: number },
): Promise<StoredVersion[]> {
  const params: unknown[] = [sourceType, sourceIds];
  const where = ['x.resource_type = $1', 'x.id = ANY($2::text[])', 'x.target_type IS NOT NULL'];
  if (edge.param !== '*') where.push(`x.param = $${params.push(edge.param)}`);
  if (edge.targetType !== undefined) where.push(`x.target_type = $${params.push(edge.targetType)}`);
  const sql = `SELECT ${versionColumnsOf('v')}
       FROM (SELECT DISTINCT x.target_type, x.target_id FROM ward_search_reference x WHERE ${where.join(' AND ')}) t
       JOIN ward_resource r ON r.resource_type = t.target_type AND r.id = t.target_id
       JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE NOT r.deleted ORDER BY r.resource_type, r.id LIMIT $${params.push(page.limit)} OFFSET $${params.push(page.offset)}`;
  // Values are all parameters, so the text is the shape: prepared once per connection, like search's own statement.
  const { rows } = await q.query(sql, params, shapeName('ward_include', sql));
  return rows.map(toStoredVersion);
}

/**
 * `_revinclude`: the current, non-deleted resources (of `sourceType`, or any with `'*'`) that
 * reference resources `targetIds` of `targetType` through `param` (or any, `'*'`), a page in
 * (type, id) order. Driven by the reference table's target indexes.
 */
export async function referencingResources(
  q: Queryable,
  targetType: string,
  targetIds: readonly string[],
  source: { readonly sourceType: string | '*'; readonly param: string | '*' },
  page: { limit: number; offset: number },
): Promise<StoredVersion[]> {
  const params: unknown[] = [targetType, targetIds];
  const where = ['x.target_type = $1', 'x.target_id = ANY($2::text[])'];
  if (source.sourceType !== '*') where.push(`x.resource_type = $${params.push(source.sourceType)}`);
  if (source.param !== '*') where.push(`x.param = $${params.push(source.param)}`);
  const sql = `SELECT ${versionColumnsOf('v')}
       FROM (SELECT DISTINCT x.resource_type, x.id FROM ward_search_reference x WHERE ${where.join(' AND ')}) s
       JOIN ward_resource r ON r.resource_type = s.resource_type AND r.id = s.id
       JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE NOT r.deleted ORDER BY r.resource_type, r.id LIMIT $${params.push(page.limit)} OFFSET $${params.push(page.offset)}`;
  const { rows } = await q.query(sql, params, shapeName('ward_revinclude', sql));
  return rows.map(toStoredVersion);
}
