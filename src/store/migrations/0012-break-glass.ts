/**
 * Break-glass grants (issue 6, ADR 0009): one row per emergency-access request, time-boxed, for
 * one principal and one patient. The free-text justification may hold PHI, so it is sealed like
 * a resource body; the reason code is a v3 PurposeOfUse code. The row is also the privacy
 * officers' alert and review item: it starts `open` and is acknowledged or escalated once.
 */
export const migration0012 = {
  version: 12,
  name: 'break-glass',
  sql: `
CREATE TABLE ward_break_glass_grant (
  id            text PRIMARY KEY,
  principal     text NOT NULL,
  patient       text NOT NULL,
  reason_code   text NOT NULL,
  key_id        text NOT NULL,
  iv            bytea NOT NULL,
  justification bytea NOT NULL,
  starts_at     timestamptz NOT NULL,
  ends_at       timestamptz NOT NULL,
  created_at    timestamptz NOT NULL,
  review_status text NOT NULL DEFAULT 'open' CHECK (review_status IN ('open', 'acknowledged', 'escalated')),
  reviewed_by   text,
  reviewed_at   timestamptz,
  CHECK (ends_at > starts_at)
);
CREATE INDEX ward_break_glass_grant_active ON ward_break_glass_grant (principal, patient, ends_at);
CREATE INDEX ward_break_glass_grant_review ON ward_break_glass_grant (review_status, created_at);
`,
};
