/**
 * Organization policy overrides (issue 6 §1, ADR 0015): every version of every organization's
 * override document, kept. A change inserts the next version; nothing is updated or deleted, so
 * the history an auditor reads is the history that decided (the serving role gets SELECT and
 * INSERT only, and a trigger refuses UPDATE, DELETE and TRUNCATE for the owner too).
 */
export const migration0017 = {
  version: 17,
  name: 'organization-policy',
  sql: `
CREATE TABLE ward_org_policy (
  organization text NOT NULL,
  version      integer NOT NULL CHECK (version > 0),
  document     text NOT NULL,
  changed_by   text NOT NULL,
  changed_at   timestamptz NOT NULL,
  PRIMARY KEY (organization, version)
);
CREATE FUNCTION ward_org_policy_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'ward_org_policy is append-only: a change is a new version';
END;
$fn$;
CREATE TRIGGER ward_org_policy_no_change BEFORE UPDATE OR DELETE ON ward_org_policy
  FOR EACH ROW EXECUTE FUNCTION ward_org_policy_refuse_change();
CREATE TRIGGER ward_org_policy_no_truncate BEFORE TRUNCATE ON ward_org_policy
  FOR EACH STATEMENT EXECUTE FUNCTION ward_org_policy_refuse_change();
`,
};
