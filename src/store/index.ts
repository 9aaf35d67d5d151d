export { type AppRole, appRoleName, provisionAppRole } from './app-role.js';
export {
  insertHead,
  readAuditSequenceValue,
  readHeadCovering,
  readHeads,
  readNewestHead,
  readNewestOfAction,
  readOldestRunningXid,
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
export {
  activeGrants,
  type GrantRow,
  insertGrant,
  listGrants,
  type ReviewStatus,
  readGrant,
  reviewGrant,
} from './break-glass-store.js';
export { readDatabaseTimeMs } from './clock.js';
export { asBuffer, asDate, asNumber, type Database, type Engine, type Queryable, type QueryResult } from './database.js';
export { keyStore } from './key-store.js';
export { clearThrottle, readThrottle, reserveAttempt, type ThrottleRow } from './login-throttle-store.js';
export { MIGRATIONS, migrate } from './migrate.js';
export { openPostgres } from './pg-database.js';
export { openPglite } from './pglite-database.js';
export {
  commitWrite,
  findCurrent,
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
export { NO_SEARCH_ROWS, type SearchIndexRows } from './search-index-store.js';
export { type RangeTest, type SearchCondition, type SearchOrder, type SearchTable, searchResources } from './search-query-store.js';
export {
  deactivateUser,
  type EnrollmentRow,
  findEnrollment,
  findUserById,
  findUserByUsernameIndex,
  insertEnrollment,
  insertUser,
  markEnrollmentUsed,
  setUserPassword,
  type UserKind,
  UsernameTakenError,
  type UserRow,
  type UserStatus,
} from './user-store.js';
