/**
 * Search indexes (issue 4, ADR 0007). Each table holds the values of the CURRENT version of each
 * resource, replaced in the same statement that writes a version (commitWrite) and emptied by a
 * delete. Identifying values (names, identifiers, telecom, addresses, person dates, every string
 * parameter) are only in ward_search_blind, as HMAC-SHA-256 under the blind-index key; the typed
 * tables hold clinical values tied to random resource ids (codes, dates, quantities, references).
 */
export const migration0005 = {
  version: 5,
  name: 'search',
  sql: `
CREATE TABLE ward_search_token (
  resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
  system text, code text NOT NULL
);
CREATE INDEX ward_search_token_code ON ward_search_token (resource_type, param, code);
CREATE INDEX ward_search_token_resource ON ward_search_token (resource_type, id);

CREATE TABLE ward_search_date (
  resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
  low bigint NOT NULL, high bigint NOT NULL
);
CREATE INDEX ward_search_date_low ON ward_search_date (resource_type, param, low);
CREATE INDEX ward_search_date_resource ON ward_search_date (resource_type, id);

CREATE TABLE ward_search_reference (
  resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
  target_type text, target_id text NOT NULL
);
CREATE INDEX ward_search_reference_target ON ward_search_reference (resource_type, param, target_id);
CREATE INDEX ward_search_reference_resource ON ward_search_reference (resource_type, id);

CREATE TABLE ward_search_number (
  resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
  value numeric NOT NULL, system text, code text
);
CREATE INDEX ward_search_number_value ON ward_search_number (resource_type, param, value);
CREATE INDEX ward_search_number_resource ON ward_search_number (resource_type, id);

CREATE TABLE ward_search_uri (
  resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
  uri text NOT NULL
);
CREATE INDEX ward_search_uri_uri ON ward_search_uri (resource_type, param, uri);
CREATE INDEX ward_search_uri_resource ON ward_search_uri (resource_type, id);

CREATE TABLE ward_search_blind (
  resource_type text NOT NULL, id text NOT NULL, param text NOT NULL,
  hash bytea NOT NULL
);
CREATE INDEX ward_search_blind_hash ON ward_search_blind (resource_type, param, hash);
CREATE INDEX ward_search_blind_resource ON ward_search_blind (resource_type, id);

CREATE INDEX ward_resource_type_updated ON ward_resource (resource_type, last_updated);
`,
} as const;
