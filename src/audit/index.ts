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
export { AuditProofError, type InclusionProofDocument, proveEntry } from './prove-entry.js';
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
export { type AuditFault, describeFault, type VerifyOptions, type VerifyReport, verifyAuditLog } from './verify-log.js';
export { FileWitness, HttpWitness, readWitnessFile, type Witness } from './witness.js';
