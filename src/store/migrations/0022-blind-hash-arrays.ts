/**
 * The blind index holds one row per resource and parameter, its hashes in one array under a GIN
 * index, instead of one row per hash. A name or a code display gives up to nine hashes (the exact
 * value and its prefixes), so a resource had some twenty blind rows, each a heap tuple with two
 * B-tree entries; writing them was two thirds of a version's commit. A GIN index stores each hash
 * once with a compressed list of the rows holding it, which also suits values repeated on every
 * resource (code displays). Lookups stay index probes: `hashes && $hashes` is a GIN search.
 * `fastupdate` is off, so a search never scans a pending list that writes have not merged yet.
 * The hashes are unchanged: existing rows are regrouped, no reindex is needed.
 */
export const migration0022 = {
  version: 22,
  name: 'blind-hash-arrays',
  sql: `
CREATE TABLE ward_search_blind_grouped (
  resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
  hashes bytea[] NOT NULL
);
INSERT INTO ward_search_blind_grouped (resource_type, id, param, hashes)
  SELECT resource_type, id, param, array_agg(hash ORDER BY hash) FROM ward_search_blind GROUP BY resource_type, id, param;
DROP TABLE ward_search_blind;
ALTER TABLE ward_search_blind_grouped RENAME TO ward_search_blind;
CREATE INDEX ward_search_blind_hashes ON ward_search_blind USING gin (hashes) WITH (fastupdate = off);
CREATE INDEX ward_search_blind_resource ON ward_search_blind (resource_type, id);
`,
} as const;
