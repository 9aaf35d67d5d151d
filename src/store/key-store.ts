import type { WrappedKeyRecord, WrappedKeyStore } from '../crypto/index.js';
import { asBuffer, asDate, type Queryable } from './database.js';

/** Wrapped data keys in ward_data_key; the unwrapped bytes never reach the database. */
export function keyStore(q: Queryable): WrappedKeyStore {
  return {
    async listKeys() {
      const { rows } = await q.query('SELECT key_id, purpose, kek_id, wrapped, created_at FROM ward_data_key ORDER BY created_at');
      return rows.map(
        (r): WrappedKeyRecord => ({
          keyId: r.key_id as string,
          purpose: r.purpose as WrappedKeyRecord['purpose'],
          kekId: r.kek_id as string,
          wrapped: asBuffer(r.wrapped),
          createdAt: asDate(r.created_at),
        }),
      );
    },
    async insertKey(k) {
      await q.query('INSERT INTO ward_data_key (key_id, purpose, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)', [
        k.keyId,
        k.purpose,
        k.kekId,
        k.wrapped,
        k.createdAt,
      ]);
    },
  };
}
