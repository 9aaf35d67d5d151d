export type { RequestContext } from './request-context.js';
export { Vault } from './vault.js';
export type { DeleteResult, HistoryEntry, HistoryPage, VaultDeps, VersionedResource, WriteResult } from './vault-types.js';
