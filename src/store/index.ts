export { type AppRole, appRoleName, provisionAppRole } from './app-role.js';
export {
  type ArchiveRecord,
  type AuditPartition,
  countArchivedLeaves,
  countDefaultPartitionRows,
  dropArchivedPartition,
  ensureAuditPartitions,
  findArchiveOf,
  type LeafRow,
  listAuditPartitions,
  partitionLeafIndexes,
  partitionSummary,
  readArchives,
  readLeafRows,
  readPartitionRows,
} from './audit-archive-store.js';
export {
  insertHead,
  readAuditSequenceValue,
  readHeadCovering,
  readHeads,
  readNewestHead,
  readNewestOfAction,
  readOldestEntryTime,
  readOldestRunningXid,
  readRecentOfAction,
  readSealCandidate,
  readUnsealed,
  type StoredHead,
  tryLockSealer,
} from './audit-head-store.js';
export {
  type AccessWindow,
  type AuditEntryRow,
  type AuditFilter,
  type AuditSort,
  type AuditSortKey,
  accessCounts,
  accessedPatients,
  accessedResources,
  disclosureCandidates,
  type FailureGroup,
  failureGroups,
  lastAuditSeq,
  readAuditEntry,
  scanAuditEntries,
  searchAuditEntries,
} from './audit-query.js';
export {
  type AuditQuery,
  type AuditRow,
  countAuditRows,
  countAuditRowsBefore,
  insertAuditRows,
  readAuditRows,
  type StoredAuditRow,
} from './audit-store.js';
export { type BatchWrite, commitWrites, type ResourceKey, readCurrentLocked, resourceKey } from './batch-write-store.js';
export {
  type BreakGlassGrantRow,
  insertGrant,
  listGrants,
  type ReviewStatus,
  readGrant,
  reviewGrant,
} from './break-glass-store.js';
export {
  type ClientAuthMethod,
  type ClientRow,
  type ClientState,
  findClient,
  insertClient,
  listClients,
  setClientState,
  touchClient,
} from './client-store.js';
export { readDatabaseTimeMs } from './clock.js';
export { consumeArtifactOnce, deleteAppArtifactsOfPatient, type GrantRow, listGrantsOfPatient } from './connected-app-store.js';
export { asBuffer, asDate, asNumber, type Database, type Engine, type Queryable, type QueryResult } from './database.js';
export {
  compartmentReferrers,
  compartmentRows,
  type EverythingFilter,
  type EverythingKey,
  supportingRows,
} from './everything-store.js';
export { keyStore } from './key-store.js';
export { clearThrottle, readThrottle, reserveAttempt, type ThrottleRow } from './login-throttle-store.js';
export { countMfaEnrollment, type MfaEnrollmentCounts } from './mfa-report-store.js';
export {
  acceptTotpCounter,
  countUnusedRecoveryCodes,
  findTotp,
  insertRecoveryCodes,
  putPendingTotp,
  type TotpRow,
  useRecoveryCode,
} from './mfa-store.js';
export { AUDIT_PARTITION_MONTHS_AHEAD, MIGRATIONS, migrate } from './migrate.js';
export {
  type ArtifactRow,
  consumeArtifact,
  deleteArtifact,
  deleteArtifactsOfAccount,
  deleteArtifactsOfClient,
  deleteArtifactsOfGrant,
  findArtifact,
  findArtifactBy,
  findLiveAccessToken,
  insertArtifactOnce,
  type LiveAccessToken,
  type StoredArtifact,
  upsertArtifact,
} from './oauth-artifact-store.js';
export { currentOrgPolicies, insertOrgPolicy, type OrgPolicyRow, orgPolicyHistory } from './org-policy-store.js';
export { openPostgres } from './pg-database.js';
export { openPglite } from './pglite-database.js';
export { type BatchFactQuery, type FactQuery, type FactRows, policyFactRows } from './policy-fact-store.js';
export { purgeResource } from './purge-store.js';
export {
  commitWrite,
  type HistoryQuery,
  type NewVersion,
  type PendingWrite,
  readCurrent,
  readHistory,
  readVersion,
  type StoredVersion,
  WriteConflictError,
  type WriteMethod,
} from './resource-store.js';
export { type IncludeEdge, referencedResources, referencingResources } from './search-include-store.js';
export { NO_SEARCH_ROWS, type SearchIndexRows } from './search-index-store.js';
export {
  type RangeTest,
  type SearchCondition,
  type SearchOrder,
  type SearchTable,
  searchResources,
  searchResourcesWithFacts,
} from './search-query-store.js';
export { countCurrent, type ReindexCursor, readCurrentAfter, replaceSearchRows } from './search-reindex-store.js';
export {
  findSession,
  insertSession,
  listUserSessions,
  revokeSession,
  revokeSessionByHandle,
  revokeUserSessions,
  type SessionRow,
  type SessionState,
  type StepUpMethod,
  touchSession,
} from './session-store.js';
export {
  changePrivileges,
  changeUserPassword,
  deactivateUser,
  type EnrollmentRow,
  findAccountStanding,
  findEnrollment,
  findUserById,
  findUserByUsernameIndex,
  insertEnrollment,
  insertUser,
  listUsers,
  markEnrollmentUsed,
  markPasswordCompromised,
  type PrivilegeChange,
  setUserPassword,
  type UserKind,
  UsernameTakenError,
  type UserRow,
  type UserStatus,
} from './user-store.js';
export {
  advanceWebauthnCounter,
  consumeWebauthnChallenge,
  insertWebauthnChallenge,
  insertWebauthnCredential,
  listWebauthnCredentials,
  type WebauthnCredentialRow,
} from './webauthn-store.js';
