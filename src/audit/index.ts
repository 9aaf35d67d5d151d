export type {
  AuditAction,
  AuditDecision,
  AuditEntry,
  AuditOutcome,
  AuditWhere,
  AuditWho,
  PrincipalKind,
} from './audit-entry.js';
export { outcomeLabel } from './audit-entry.js';
export { AuditLog, type AuditLogOptions, AuditUnavailableError, auditRowOf } from './audit-log.js';
export { canonicalJson } from './canonical-json.js';
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
