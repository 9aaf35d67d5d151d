/**
 * SMART App Launch authorization code flows (issue 5 item 5, ADR 0013).
 *
 * A patient lists and revokes their connected apps: grants and tokens are found by the account
 * they act for, so that look-up gets an index. Launch ids and launch contexts are kept in
 * `ward_oauth_artifact` like every other authorization-server artifact (keyed hashes, sealed
 * payloads), so they need no table of their own.
 */
export const migration0013 = {
  version: 13,
  name: 'smart-launch',
  sql: `
CREATE INDEX ward_oauth_artifact_account ON ward_oauth_artifact (account_id, client_id);
`,
} as const;
