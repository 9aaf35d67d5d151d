// The pure parsers of the auditor's parameters, for the use cases above the vault.

export type { RequestContext } from '../audit/index.js';
export {
  type AccessReport,
  type AuditEventResource,
  type AuditSearch,
  auditSearchQuery,
  checkParameters,
  type DateRange,
  type ExportFormat,
  parseAuditSearch,
  parseExportFormat,
  parseWindow,
  patientIdOf,
  principalIdOf,
} from '../audit/index.js';
export type {
  Accounting,
  AuditEventPage,
  AuditorOperations,
  AuditStatus,
  FailureReport,
  RecordedDisclosure,
  SealerView,
} from './auditor-operations.js';
export type { BatchUpdate } from './batch-update.js';
export {
  BREAK_GLASS_MAX_MINUTES,
  BREAK_GLASS_REASONS,
  type BreakGlassGrantView,
  type BreakGlassOperations,
  type BreakGlassRequest,
} from './break-glass-operations.js';
export type { EverythingPage } from './everything-operations.js';
export type { OrganizationPolicyOperations, OrganizationPolicyView } from './organization-policy-operations.js';
export { PART2_CONSENT_EXTENSION, PART2_NOTICE_EXTENSION, PART2_NOTICE_LABEL } from './part2-disclosure.js';
export type { Part2EmergencyRecord } from './part2-emergency-records.js';
export type { Part2Accounting, Part2Operations } from './part2-operations.js';
export { policyFactTypesFor } from './policy-facts.js';
export type { PurgeOperations, PurgeResult } from './purge-operations.js';
export type { ReindexBatch } from './reindex-operations.js';
export { Vault } from './vault.js';
export type { DeleteResult, HistoryEntry, HistoryPage, SearchPage, VaultDeps, VersionedResource, WriteResult } from './vault-types.js';
