export {
  type AccessReport,
  type ActionCount,
  actionCounts,
  type FailureSummary,
  failuresByPrincipal,
  type IdList,
  idList,
} from './access-reports.js';
export {
  type ArchiveFiles,
  type ArchiveHeadFile,
  AuditArchiveError,
  archiveFiles,
  checkArchive,
  type ExportedPartition,
  exportPartition,
} from './archive-partition.js';
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
export { type BatchProofs, batchInclusionProofs } from './batch-proofs.js';
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
export { entryLeafHash } from './entry-leaf.js';
export {
  CompactRange,
  consistencyProof,
  consistencyProofFrom,
  type Hash,
  inclusionProof,
  inclusionProofRanges,
  leafHash,
  nodeHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export {
  type IntermediaryRecipients,
  PART2_ACCOUNTING_YEARS,
  PART2_DISCLOSING_ACTIONS,
  type Part2Disclosure,
  part2AccountingOf,
  part2AccountingWindowStart,
  part2DisclosureOf,
} from './part2-accounting.js';
export { AuditProofError, type InclusionProofDocument, proveEntry } from './prove-entry.js';
export {
  isPatientDirectedPurpose,
  isPurposeOfUse,
  isTpoPurpose,
  PURPOSE_OF_USE_SYSTEM,
  purposeOfUseDisplay,
  purposeOfUseHierarchy,
  unaccountedPurposes,
} from './purpose-of-use.js';
export type { RequestContext } from './request-context.js';
export { checkReviewInput, REVIEW_NOTE_MAX_CHARS, type ReviewInput, type ReviewSchedule, reviewSchedule } from './review-signoff.js';
export { AuditSealer, type SealerEvent, type SealerOptions, type SealerStatus, type SealResult } from './sealer.js';
export {
  auditKeyId,
  signTreeHead,
  type TreeHead,
  type TreeHeadJson,
  treeHeadFromJson,
  treeHeadMessage,
  treeHeadSignatureValid,
  treeHeadToJson,
} from './tree-head.js';
export { type ArchivedRange, type AuditFault, describeFault, type VerifyOptions, type VerifyReport, verifyAuditLog } from './verify-log.js';
export { FileWitness, HttpWitness, readWitnessFile, type Witness } from './witness.js';
