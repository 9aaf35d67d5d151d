/**
 * Hard purge of one resource (164.312(c)(1); ADR 0018). The serving role may insert versions but
 * never delete them (nor a current pointer): history is destroyed only through this function,
 * which the owner defines and which removes exactly one resource — every version, the current
 * pointer and every search-index row — and returns how many versions it removed. It runs with the
 * owner's rights (SECURITY DEFINER) on a fixed search_path with every table schema-qualified, so
 * a compromised serving process can purge one named resource at a time, as the vault does after
 * the policy allowed it, but cannot empty the history tables with plain SQL. The vault writes the
 * audit entry in the same transaction. PUBLIC loses EXECUTE; the serving role is granted it by
 * provisionAppRole (app-role.ts).
 *
 * And no version goes unaudited, whoever deletes it: a deferred constraint trigger checks, at
 * commit, that the transaction itself wrote a `purge` audit entry naming the resource (the entry
 * row's xmin is the transaction's id). The vault appends that entry after calling the function,
 * before committing; someone calling the function (or, as the owner, deleting rows) without one
 * is refused and nothing is removed.
 */
export const migration0021 = {
  version: 21,
  name: 'purge',
  sql: `
CREATE FUNCTION ward_purge_resource(p_type text, p_id text) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  removed integer;
BEGIN
  IF p_type IS NULL OR p_id IS NULL THEN
    RAISE EXCEPTION 'a purge names one resource' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM public.ward_search_token WHERE resource_type = p_type AND id = p_id;
  DELETE FROM public.ward_search_date WHERE resource_type = p_type AND id = p_id;
  DELETE FROM public.ward_search_reference WHERE resource_type = p_type AND id = p_id;
  DELETE FROM public.ward_search_number WHERE resource_type = p_type AND id = p_id;
  DELETE FROM public.ward_search_uri WHERE resource_type = p_type AND id = p_id;
  DELETE FROM public.ward_search_blind WHERE resource_type = p_type AND id = p_id;
  DELETE FROM public.ward_resource WHERE resource_type = p_type AND id = p_id;
  DELETE FROM public.ward_resource_version WHERE resource_type = p_type AND id = p_id;
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$fn$;
REVOKE ALL ON FUNCTION ward_purge_resource(text, text) FROM PUBLIC;

CREATE FUNCTION ward_resource_version_purge_audited() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF NOT EXISTS (
      SELECT 1 FROM public.ward_audit_entry a
      WHERE a.resource_type = OLD.resource_type AND a.resource_id = OLD.id AND a.action = 'purge'
        AND a.xmin = pg_current_xact_id()::xid) THEN
    RAISE EXCEPTION 'a resource version is removed only by a purge audited in the same transaction'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NULL;
END
$fn$;
CREATE CONSTRAINT TRIGGER ward_resource_version_purge_audited AFTER DELETE ON ward_resource_version
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ward_resource_version_purge_audited();
`,
} as const;
