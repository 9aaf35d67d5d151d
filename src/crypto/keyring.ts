import { randomBytes, randomUUID } from 'node:crypto';
import { BlindIndexer } from './blind-index.js';
import type { DataKey } from './envelope.js';
import type { KeyProvider } from './key-provider.js';

export type KeyPurpose = 'data' | 'blind-index';

/** A data key as stored: wrapped under the KEK named by kekId; the unwrapped bytes never reach the database. */
export interface WrappedKeyRecord {
  readonly keyId: string;
  readonly purpose: KeyPurpose;
  readonly kekId: string;
  readonly wrapped: Buffer;
  readonly createdAt: Date;
}

/** Where wrapped keys are kept (the store implements it; crypto stays free of SQL). */
export interface WrappedKeyStore {
  listKeys(): Promise<WrappedKeyRecord[]>;
  insertKey(record: WrappedKeyRecord): Promise<void>;
}

export class UnknownKeyError extends Error {
  override readonly name = 'UnknownKeyError';
}

/**
 * Holds the unwrapped data keys of this process. New writes use the newest data key; any key
 * still listed can decrypt, so a rotation only adds a key and re-encrypts in the background.
 */
export class Keyring {
  readonly #dataKeys: Map<string, DataKey>;
  readonly #active: DataKey;
  readonly blindIndexer: BlindIndexer;
  /** Keys this open created (a new store), so the caller can audit the key operation. */
  readonly created: readonly { keyId: string; purpose: KeyPurpose; kekId: string }[];

  private constructor(
    dataKeys: Map<string, DataKey>,
    active: DataKey,
    blindIndexer: BlindIndexer,
    created: readonly { keyId: string; purpose: KeyPurpose; kekId: string }[],
  ) {
    this.#dataKeys = dataKeys;
    this.#active = active;
    this.blindIndexer = blindIndexer;
    this.created = created;
  }

  /** Unwraps every stored key, creating the first data key and blind-index key on a new store. */
  static async open(store: WrappedKeyStore, provider: KeyProvider): Promise<Keyring> {
    let records = await store.listKeys();
    const created: { keyId: string; purpose: KeyPurpose; kekId: string }[] = [];
    for (const purpose of ['data', 'blind-index'] as const) {
      if (!records.some((r) => r.purpose === purpose)) {
        const record = await createWrappedKey(provider, purpose);
        await store.insertKey(record);
        created.push({ keyId: record.keyId, purpose, kekId: record.kekId });
      }
    }
    records = await store.listKeys();
    const dataKeys = new Map<string, DataKey>();
    let active: DataKey | undefined;
    let blind: Buffer | undefined;
    const ordered = [...records].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    for (const record of ordered) {
      if (record.kekId !== provider.kekId) {
        throw new UnknownKeyError(`data key ${record.keyId} is wrapped under ${record.kekId}, not the configured root key`);
      }
      const key = await provider.unwrap(record.wrapped, `${record.purpose}/${record.keyId}`);
      if (record.purpose === 'data') {
        const dataKey = { keyId: record.keyId, key };
        dataKeys.set(record.keyId, dataKey);
        active = dataKey;
      } else if (blind === undefined) {
        // The first blind-index key stays: changing it would orphan every index entry.
        blind = key;
      }
    }
    if (!active || !blind) throw new UnknownKeyError('keyring is incomplete');
    return new Keyring(dataKeys, active, new BlindIndexer(blind), created);
  }

  activeDataKey(): DataKey {
    return this.#active;
  }

  dataKey(keyId: string): DataKey {
    const key = this.#dataKeys.get(keyId);
    if (!key) throw new UnknownKeyError(`no data key ${keyId}`);
    return key;
  }
}

async function createWrappedKey(provider: KeyProvider, purpose: KeyPurpose): Promise<WrappedKeyRecord> {
  const keyId = `${purpose === 'data' ? 'dek' : 'bik'}-${randomUUID()}`;
  const key = randomBytes(32);
  const wrapped = await provider.wrap(key, `${purpose}/${keyId}`);
  key.fill(0);
  return { keyId, purpose, kekId: provider.kekId, wrapped, createdAt: new Date() };
}
