/** Where a vault call comes from, as the edge saw it; recorded in the audit entry. */
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
