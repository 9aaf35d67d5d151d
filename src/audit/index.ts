export {
  type AccessReport,
  type ActionCount,
  actionCounts,
  type FailureSummary,
  failuresByPrincipal,
  type IdList,
  idList,
} from './access-reports.js';
export type {
  AuditAction,
  AuditDecision,
  AuditEntry,
  AuditOutcome,
  AuditWhere,
  AuditWho,
  PrincipalKind,
} from './audit-entry.js';
export { AUDIT_ACTIONS, outcomeLabel } from './audit-entry.js';
export { type AuditEventResource, actionCodeOf, auditEventOf, outcomeCodeOf } from './audit-event-view.js';
export { CSV_COLUMNS, csvCell, csvRow, EXPORT_FORMATS, type ExportFormat, type ExportRow, exportChunks } from './audit-export.js';
export { AuditLog, type AuditLogOptions, AuditUnavailableError, auditRowOf } from './audit-log.js';
export {
  type AuditSearch,
  auditSearchQuery,
  checkParameters,
  type DateRange,
  DEFAULT_AUDIT_PAGE,
  MAX_AUDIT_PAGE,
  parseAuditSearch,
  parseExportFormat,
  parseWindow,
  patientIdOf,
  principalIdOf,
} from './audit-search.js';
export { canonicalJson } from './canonical-json.js';
export { checkDisclosureInput, DESCRIPTION_MAX_CHARS, type DisclosureInput } from './disclosure-input.js';
export {
  ACCOUNTING_YEARS,
  accountingOf,
  accountingWindowStart,
  DISCLOSING_ACTIONS,
  type Disclosure,
  disclosureOf,
  disclosureTime,
  patientsOf,
} from './disclosures.js';
export { consistencyProof, type Hash, inclusionProof, leafHash, nodeHash, rootHash, verifyConsistency, verifyInclusion } from './merkle.js';
export {
  isPatientDirectedPurpose,
  isPurposeOfUse,
  isTpoPurpose,
  PURPOSE_OF_USE_SYSTEM,
  purposeOfUseDisplay,
  purposeOfUseHierarchy,
  unaccountedPurposes,
} from './purpose-of-use.js';
