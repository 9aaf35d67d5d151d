/**
 * Where a call comes from, as the edge or an operator command saw it; recorded in the audit
 * entry. The vault and the identity layer both take it (identity cannot see the vault, so it
 * lives here, beside the entry it fills).
 */
export interface RequestContext {
  readonly requestId: string;
  readonly listener: 'https' | 'http' | 'admin-socket' | 'cli';
  readonly address?: string;
  readonly userAgent?: string;
  readonly method?: string;
  readonly route?: string;
  /** Set once an audit entry for this request has been written, so the edge never adds a second one. */
  audited: boolean;
}
