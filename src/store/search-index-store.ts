/** The search-index rows of one resource's current version, written with the version (commitWrite). */
export interface SearchIndexRows {
  readonly token: readonly { param: string; system: string | null; code: string }[];
  readonly date: readonly { param: string; low: number; high: number }[];
  readonly reference: readonly { param: string; targetType: string | null; targetId: string }[];
  readonly number: readonly { param: string; value: number; system: string | null; code: string | null }[];
  readonly uri: readonly { param: string; uri: string }[];
  /** One entry per parameter, with every hash of the resource's values for it (distinct, lowercase hex). */
  readonly blind: readonly { param: string; hashesHex: readonly string[] }[];
}

export const NO_SEARCH_ROWS: SearchIndexRows = { token: [], date: [], reference: [], number: [], uri: [], blind: [] };

/** The rows as one jsonb parameter (hashes as hex), so a write stays one statement with a fixed shape. */
export function searchRowsParam(rows: SearchIndexRows): string {
  return JSON.stringify(searchRowsJson(rows));
}

/** The rows as the JSON value that searchRowsParam sends (also nested per write in a batch, see commitWrites). */
export function searchRowsJson(rows: SearchIndexRows): Record<string, unknown> {
  return {
    token: rows.token,
    date: rows.date,
    reference: rows.reference.map((r) => ({ param: r.param, target_type: r.targetType, target_id: r.targetId })),
    number: rows.number,
    uri: rows.uri,
    // bytea's own input form, so jsonb_to_recordset reads the list straight into a bytea[].
    blind: rows.blind.map((b) => ({ param: b.param, hashes: b.hashesHex.map((h) => `\\x${h}`) })),
  };
}

const TABLES: readonly [table: string, key: string, columns: string, record: string, select: string][] = [
  ['ward_search_token', 'token', 'system, code', 'param text, system text, code text', 'x.system, x.code'],
  ['ward_search_date', 'date', 'low, high', 'param text, low bigint, high bigint', 'x.low, x.high'],
  [
    'ward_search_reference',
    'reference',
    'target_type, target_id',
    'param text, target_type text, target_id text',
    'x.target_type, x.target_id',
  ],
  ['ward_search_number', 'number', 'value, system, code', 'param text, value numeric, system text, code text', 'x.value, x.system, x.code'],
  ['ward_search_uri', 'uri', 'uri', 'param text, uri text', 'x.uri'],
  ['ward_search_blind', 'blind', 'hashes', 'param text, hashes bytea[]', 'x.hashes'],
];

/**
 * CTEs that replace a resource's search rows, to splice into commitWrite's statement after its
 * version CTE `v`: every sub-statement sees the same snapshot, so the DELETEs remove the old rows
 * and never the new ones. `$1`/`$2` are the type and id; `$n` the rows parameter.
 */
export function replaceSearchRowsCtes(rowsParam: number): string {
  return TABLES.map(
    ([table, key, columns, record, select], i) => `, sd${i} AS (
       DELETE FROM ${table} WHERE resource_type = $1 AND id = $2 AND EXISTS (SELECT 1 FROM v)
     ), si${i} AS (
       INSERT INTO ${table} (resource_type, id, param, ${columns})
       SELECT $1, $2, x.param, ${select} FROM jsonb_to_recordset($${rowsParam}::jsonb -> '${key}') AS x(${record})
        WHERE EXISTS (SELECT 1 FROM v)
     )`,
  ).join('');
}

/**
 * The same replacement for a batch of writes (commitWrites): after its version CTE `v` (the rows
 * written: resource_type, id) and its input CTE `w` (one row per write: `t`, `i`, the version it
 * replaces `e`, null for a first version, and the rows as jsonb `s`), the old rows of every
 * written resource go and its new rows come in. A first version has no old rows (index rows
 * exist only for a current version), so its six index probes are skipped: at millions of rows
 * each is a read of a random leaf page.
 */
export function replaceBatchSearchRowsCtes(): string {
  return TABLES.map(
    ([table, key, columns, record, select], i) => `, sd${i} AS (
       DELETE FROM ${table} x USING v JOIN w ON w.t = v.resource_type AND w.i = v.id
        WHERE w.e IS NOT NULL AND x.resource_type = v.resource_type AND x.id = v.id
     ), si${i} AS (
       INSERT INTO ${table} (resource_type, id, param, ${columns})
       SELECT w.t, w.i, x.param, ${select}
         FROM v JOIN w ON w.t = v.resource_type AND w.i = v.id, jsonb_to_recordset(w.s -> '${key}') AS x(${record})
     )`,
  ).join('');
}
