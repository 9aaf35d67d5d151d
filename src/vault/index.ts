export type { RequestContext } from './request-context.js';
export {
  type DeleteResult,
  type HistoryEntry,
  type HistoryPage,
  Vault,
  type VaultDeps,
  type VersionedResource,
  type WriteResult,
} from './vault.js';
