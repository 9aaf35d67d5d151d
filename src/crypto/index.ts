export { BlindIndexer } from './blind-index.js';
export { type DataKey, IntegrityError, open, PHI_CIPHER, type SealedBox, seal } from './envelope.js';
export { loadOrCreatePrivateKey } from './key-files.js';
export { type KeyProvider, KeyProviderError } from './key-provider.js';
export { type KeyPurpose, Keyring, UnknownKeyError, type WrappedKeyRecord, type WrappedKeyStore } from './keyring.js';
export { LocalKeyFileProvider } from './local-key-file.js';
export { blindHashesOf, dateBlockHashes, datePrecisionHash, stringExactHash, stringPrefixHash, tokenHash } from './search-blind-index.js';
export { loadOrCreateDevTls, type TlsMaterial } from './tls-certificates.js';
