import type { Keyring } from '../crypto/index.js';
import type { FhirResource } from '../fhir/index.js';
import type { Database, WriteMethod } from '../store/index.js';
import type { AuditSink } from './audited-runner.js';

export interface VaultDeps {
  readonly db: Database;
  readonly audit: AuditSink;
  readonly keyring: Keyring;
  readonly now: () => Date;
  readonly newId: () => string;
  /** How long a step-up counts for sensitive operations such as break-glass (ADR 0014). */
  readonly stepUpSeconds: number;
}

export interface VersionedResource {
  readonly resource: FhirResource & { id: string };
  readonly versionId: number;
  readonly lastUpdated: Date;
}

export interface WriteResult extends VersionedResource {
  /** created: a new resource; updated: a new version; existing: a conditional create matched. */
  readonly outcome: 'created' | 'updated' | 'existing';
}

export interface HistoryEntry {
  readonly resourceType: string;
  readonly id: string;
  readonly versionId: number;
  readonly lastUpdated: Date;
  readonly method: WriteMethod;
  readonly resource?: FhirResource;
  readonly seq: number;
}

export interface HistoryPage {
  readonly entries: HistoryEntry[];
  /** Cursor for the next (older) page, when there is one. */
  readonly nextCursor?: number;
}

export interface DeleteResult {
  readonly outcome: 'deleted' | 'already-deleted' | 'not-found';
  readonly versionId?: number;
}

export const WRITE_STATUS = { created: 201, updated: 200, existing: 200 } as const;

/** One page of a search: the visible matches and included resources, whether more follow, and the total when it is known. */
export interface SearchPage {
  readonly entries: readonly VersionedResource[];
  /** Visible resources reached by `_include`/`_revinclude` from this page (not counted in the total). */
  readonly included: readonly VersionedResource[];
  /** Whether visible included resources were left out by the per-page bound. */
  readonly includeTruncated: boolean;
  readonly hasNext: boolean;
  /** Visible matches in all; absent when counting them all was not asked for (`_total=none`, or more pages). */
  readonly total?: number;
}
