import { execFileSync } from 'node:child_process';
import { createDecipheriv, getCipherInfo } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyProvider, KeyProviderError, Keyring, LocalKeyFileProvider, PHI_CIPHER, UnknownKeyError } from '../../src/crypto/index.js';
import { asBuffer, keyStore } from '../../src/store/index.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { asOwner } from '../support/owner-sql.js';

const patient = (family: string) => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Quinn'] }],
  gender: 'male',
  birthDate: '1966-07-08',
  identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: `MRN-${family}` }],
});

interface StoredRow {
  seq: number;
  versionId: number;
  keyId: string;
  iv: Buffer;
  body: Buffer;
}

async function currentRow(t: TestWard, resourceType: string, id: string): Promise<StoredRow> {
  const { rows } = await t.ward.db.query<Record<string, unknown>>(
    `SELECT v.seq, v.version_id, v.key_id, v.iv, v.body FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE r.resource_type = $1 AND r.id = $2`,
    [resourceType, id],
  );
  const r = rows[0];
  if (!r) throw new Error(`no stored row for ${resourceType}/${id}`);
  return { seq: Number(r.seq), versionId: Number(r.version_id), keyId: String(r.key_id), iv: asBuffer(r.iv), body: asBuffer(r.body) };
}

async function wrappedKeys(t: TestWard) {
  const { rows } = await t.ward.db.query<Record<string, unknown>>('SELECT key_id, purpose, kek_id, wrapped FROM ward_data_key');
  return rows.map((r) => ({ keyId: String(r.key_id), purpose: String(r.purpose), kekId: String(r.kek_id), wrapped: asBuffer(r.wrapped) }));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    return d.isDirectory() ? filesUnder(path) : d.isFile() ? [path] : [];
  });
}

/** Everything the database holds, as bytes: a pg_dump on PostgreSQL, every PGlite file after a checkpoint. */
async function databaseImage(t: TestWard): Promise<Buffer[]> {
  if (t.ownerUrl) {
    return [execFileSync('pg_dump', ['--dbname', t.ownerUrl], { maxBuffer: 512 * 1024 * 1024 })];
  }
  await t.ward.db.query('CHECKPOINT');
  return filesUnder(join(t.config.dataDir, 'pglite')).map((f) => readFileSync(f));
}

/** The byte forms a secret could take in a dump: raw, hex (bytea output), base64 and base64url. */
function encodings(secret: Buffer): Buffer[] {
  return [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64')), Buffer.from(secret.toString('base64url'))];
}

describe.each(engines())('encryption at rest on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;

  beforeAll(async () => {
    t = await openTestWard(engine);
    fhir = fhirClient(t, await t.token(SERVICE));
  });
  afterAll(async () => t.close());

  describe('164.312(c)(2): a tampered ciphertext is detected, refused with an OperationOutcome and audited', () => {
    const tamperings: { name: string; tamper: (target: StoredRow, other: StoredRow, previous: StoredRow) => Promise<void> }[] = [
      {
        name: 'one flipped ciphertext byte',
        tamper: (row) =>
          asOwner(t, 'UPDATE ward_resource_version SET body = set_byte(body, 7, get_byte(body, 7) # 1) WHERE seq = $1', [row.seq]),
      },
      {
        name: 'one flipped tag byte',
        tamper: (row) =>
          asOwner(
            t,
            'UPDATE ward_resource_version SET body = set_byte(body, length(body) - 1, get_byte(body, length(body) - 1) # 128) WHERE seq = $1',
            [row.seq],
          ),
      },
      {
        name: 'one flipped nonce byte',
        tamper: (row) => asOwner(t, 'UPDATE ward_resource_version SET iv = set_byte(iv, 0, get_byte(iv, 0) # 1) WHERE seq = $1', [row.seq]),
      },
      {
        name: 'a truncated body',
        tamper: (row) =>
          asOwner(t, 'UPDATE ward_resource_version SET body = substring(body from 1 for length(body) - 1) WHERE seq = $1', [row.seq]),
      },
      {
        name: "another resource's ciphertext, nonce and key id copied into the row",
        tamper: (row, other) =>
          asOwner(t, 'UPDATE ward_resource_version SET body = $2, iv = $3, key_id = $4 WHERE seq = $1', [
            row.seq,
            other.body,
            other.iv,
            other.keyId,
          ]),
      },
      {
        name: "the resource's own previous version copied over the current one (roll-back)",
        tamper: (row, _other, previous) =>
          asOwner(t, 'UPDATE ward_resource_version SET body = $2, iv = $3, key_id = $4 WHERE seq = $1', [
            row.seq,
            previous.body,
            previous.iv,
            previous.keyId,
          ]),
      },
    ];

    it.each(tamperings)('$name', async ({ name, tamper }) => {
      const family = `Tampered${name.replace(/[^A-Za-z]/g, '').slice(0, 20)}`;
      const created = (await fhir.post('Patient', patient(family))).body;
      const previous = await currentRow(t, 'Patient', created.id);
      const updated = (await fhir.put(`Patient/${created.id}`, { ...created, gender: 'female' })).body;
      expect(updated.meta.versionId).toBe('2');
      const other = (await fhir.post('Patient', patient('Bystander'))).body;
      await tamper(await currentRow(t, 'Patient', created.id), await currentRow(t, 'Patient', other.id), previous);

      for (const url of [
        `Patient/${created.id}`,
        `Patient/${created.id}/_history/2`,
        `Patient?_id=${created.id}`,
        `Patient/${created.id}/_history`,
      ]) {
        const before = await lastAuditSeq(t.ward);
        const res = await fhir.get(url);
        expect(res.status, url).toBe(500);
        expect(res.body.resourceType).toBe('OperationOutcome');
        expect(res.body.issue[0].details.coding).toContainEqual(expect.objectContaining({ code: 'WARD_INTEGRITY_FAILURE' }));
        for (const data of [family, 'Bystander', 'Quinn', 'MRN-', '1966-07-08']) expect(res.raw.body, url).not.toContain(data);
        const rows = await auditRowsAfter(t.ward, before);
        expect(rows, url).toHaveLength(1);
        expect(rows[0]?.outcome).toBe('error');
        expect(rows[0]?.parsed).toMatchObject({ resourceType: 'Patient', outcome: { status: 500, code: 'WARD_INTEGRITY_FAILURE' } });
      }
      // The untouched version and the bystander still read.
      expect((await fhir.get(`Patient/${created.id}/_history/1`)).body.name[0].family).toBe(family);
      expect((await fhir.get(`Patient/${other.id}`)).status).toBe(200);
    });
  });

  describe('170.210(a)(2) · 170.210(f): only approved algorithms, every key wrapped', () => {
    it('names a data key on every stored version and stores every key wrapped (nonce 12 + key 32 + tag 16 bytes)', async () => {
      await fhir.post('Patient', patient('Keyed'));
      await fhir.post('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'pulse' } });
      const { rows } = await t.ward.db.query<Record<string, unknown>>(
        `SELECT v.key_id, k.purpose, octet_length(v.iv) AS iv_len FROM ward_resource_version v LEFT JOIN ward_data_key k ON k.key_id = v.key_id
          WHERE NOT v.deleted`,
      );
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const r of rows) {
        expect(r.key_id).toMatch(/^dek-/);
        expect(r.purpose).toBe('data');
        expect(Number(r.iv_len)).toBe(12);
      }
      const keys = await wrappedKeys(t);
      expect(new Set(keys.map((k) => k.purpose))).toEqual(new Set(['data', 'blind-index']));
      const provider = LocalKeyFileProvider.open(t.config.rootKeyFile, { create: false });
      for (const k of keys) {
        expect(k.wrapped.length, k.keyId).toBe(12 + 32 + 16);
        expect(k.kekId).toBe(provider.kekId);
      }
    });

    it('wraps under the root key of its own install: another install with another root key stores other wrapped keys and cannot unwrap these', async () => {
      const other = await openTestWard(engine);
      try {
        const mine = await wrappedKeys(t);
        const theirs = await wrappedKeys(other);
        expect(theirs.length).toBeGreaterThanOrEqual(2);
        const myWrapped = new Set(mine.map((k) => k.wrapped.toString('hex')));
        for (const k of theirs) expect(myWrapped.has(k.wrapped.toString('hex'))).toBe(false);
        expect(new Set(theirs.map((k) => k.kekId))).not.toEqual(new Set(mine.map((k) => k.kekId)));

        const myProvider = LocalKeyFileProvider.open(t.config.rootKeyFile, { create: false });
        const theirProvider = LocalKeyFileProvider.open(other.config.rootKeyFile, { create: false });
        for (const k of mine) {
          expect((await myProvider.unwrap(k.wrapped, `${k.purpose}/${k.keyId}`)).length).toBe(32);
          await expect(theirProvider.unwrap(k.wrapped, `${k.purpose}/${k.keyId}`)).rejects.toBeInstanceOf(KeyProviderError);
        }
      } finally {
        await other.close();
      }
    });

    it('seals resource bodies with AES-256-GCM: the stored box opens with node:crypto under the named key and the row-binding AAD', async () => {
      expect(PHI_CIPHER).toBe('aes-256-gcm');
      expect(getCipherInfo(PHI_CIPHER)).toMatchObject({ mode: 'gcm', keyLength: 32, ivLength: 12 });
      const created = (await fhir.post('Patient', patient('Opened'))).body;
      const row = await currentRow(t, 'Patient', created.id);
      const record = (await wrappedKeys(t)).find((k) => k.keyId === row.keyId);
      if (!record) throw new Error(`key ${row.keyId} is not in ward_data_key`);
      const dek = await LocalKeyFileProvider.open(t.config.rootKeyFile, { create: false }).unwrap(record.wrapped, `data/${record.keyId}`);
      const decipher = createDecipheriv('aes-256-gcm', dek, row.iv);
      decipher.setAAD(Buffer.from(`ward:resource:v1:Patient/${created.id}/1`));
      decipher.setAuthTag(row.body.subarray(row.body.length - 16));
      const plaintext = Buffer.concat([decipher.update(row.body.subarray(0, row.body.length - 16)), decipher.final()]);
      expect(JSON.parse(plaintext.toString('utf8'))).toEqual(created);
    });

    it('a static scan of src/ finds no MD5, SHA-1, DES, RC4 or ECB, and every cipher call uses AES-256-GCM', () => {
      const sources = filesUnder(join(process.cwd(), 'src')).filter((f) => f.endsWith('.ts'));
      expect(sources.length).toBeGreaterThan(20);
      const hashAlgorithms = new Set<string>();
      let cipherCalls = 0;
      const banned = [
        /['"`](md5|md4|sha1|sha-1|ripemd160|rsa-md5|rsa-sha1)['"`]/i,
        /['"`][^'"`\n]*\b(des|des3|3des|des-ede3?|des-ede3?-cbc|desx|rc2|rc4|rc4-40|rc4-hmac-md5)(-[a-z0-9]+)*['"`]/i,
        /['"`][^'"`\n]*-ecb['"`]/i,
      ];
      for (const file of sources) {
        // The one allowed SHA-1: TOTP's HMAC-SHA-1 (RFC 6238), named once in totp.ts (see its comment).
        const text = readFileSync(file, 'utf8').replace("export const TOTP_HMAC = 'SHA1';", '');
        for (const pattern of banned) expect(text, `${file} matches ${pattern}`).not.toMatch(pattern);
        const hashCalls = text.match(/\bcreate(?:Hash|Hmac)\(/g)?.length ?? 0;
        const literal = [...text.matchAll(/\bcreate(?:Hash|Hmac)\(\s*['"`]([^'"`]+)['"`]/g)];
        expect(literal.length, `${file}: every createHash/createHmac names its algorithm literally`).toBe(hashCalls);
        for (const m of literal) hashAlgorithms.add(String(m[1]).toLowerCase());
        for (const m of text.matchAll(/\bcreate(?:Cipher|Decipher)iv\(\s*([^,]+),/g)) {
          cipherCalls += 1;
          expect(['PHI_CIPHER', "'aes-256-gcm'"], `${file}: ${m[0]}`).toContain(String(m[1]).trim());
        }
        expect(text, `${file} uses the deprecated createCipher`).not.toMatch(/\bcreate(?:Cipher|Decipher)\(/);
      }
      expect(cipherCalls).toBeGreaterThanOrEqual(4);
      expect(hashAlgorithms.size).toBeGreaterThan(0);
      for (const alg of hashAlgorithms)
        expect(['sha256', 'sha384', 'sha512', 'sha512-256', 'sha3-256', 'sha3-384', 'sha3-512']).toContain(alg);
    });
  });

  describe('HHS unsecured-PHI guidance (74 FR 19006): keys are kept apart from the data they protect', () => {
    it('keeps the root key in a 0600 file whose bytes, and every data key, appear nowhere in the database, with no PEM block', async () => {
      await fhir.post('Patient', patient('Dumped'));
      expect(statSync(t.config.rootKeyFile).mode & 0o777).toBe(0o600);
      const kekText = readFileSync(t.config.rootKeyFile, 'utf8').trim();
      const kek = Buffer.from(kekText, 'base64');
      expect(kek.length).toBe(32);
      const provider = LocalKeyFileProvider.open(t.config.rootKeyFile, { create: false });
      const keys = await wrappedKeys(t);
      const deks = await Promise.all(keys.map((k) => provider.unwrap(k.wrapped, `${k.purpose}/${k.keyId}`)));
      const pemBodies = filesUnder(join(t.config.dataDir, 'keys'))
        .filter((f) => f.endsWith('.pem'))
        .flatMap((f) =>
          readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => l.length >= 40 && !l.startsWith('-----')),
        );
      expect(pemBodies.length).toBeGreaterThan(0);

      const image = await databaseImage(t);
      const contains = (needle: Buffer) => image.some((chunk) => chunk.includes(needle));
      // The scan does see the database: the key table's kek id and wrapped bytes are in it.
      expect(contains(Buffer.from(provider.kekId))).toBe(true);
      const firstWrapped = keys[0]?.wrapped ?? Buffer.alloc(0);
      expect(contains(firstWrapped) || contains(Buffer.from(firstWrapped.toString('hex')))).toBe(true);

      expect(contains(Buffer.from(kekText)), 'root key file text').toBe(false);
      for (const form of encodings(kek)) expect(contains(form), 'root key bytes').toBe(false);
      for (const [i, dek] of deks.entries()) {
        expect(dek.length).toBe(32);
        for (const form of encodings(dek)) expect(contains(form), `unwrapped ${keys[i]?.keyId}`).toBe(false);
      }
      expect(contains(Buffer.from('-----BEGIN'))).toBe(false);
      for (const line of pemBodies) expect(contains(Buffer.from(line)), 'signing key material').toBe(false);
    });

    it('refuses to open the data with another root key, or with none: Keyring.open throws instead of returning garbage', async () => {
      const store = keyStore(t.ward.db);
      const right = LocalKeyFileProvider.open(t.config.rootKeyFile, { create: false });
      const opened = await Keyring.open(store, right);
      const stored = (await wrappedKeys(t)).filter((k) => k.purpose === 'data').map((k) => k.keyId);
      expect(stored).toContain(opened.activeDataKey().keyId);

      const dir = mkdtempSync(join(tmpdir(), 'ward-other-key-'));
      try {
        const wrong = LocalKeyFileProvider.open(join(dir, 'root.key'), { create: true });
        await expect(Keyring.open(store, wrong)).rejects.toBeInstanceOf(UnknownKeyError);
        // A provider that claims the right key id but holds another key cannot unwrap either.
        const impostor: KeyProvider = {
          kekId: right.kekId,
          wrap: (key, context) => wrong.wrap(key, context),
          unwrap: (wrapped, context) => wrong.unwrap(wrapped, context),
        };
        await expect(Keyring.open(store, impostor)).rejects.toBeInstanceOf(KeyProviderError);
        expect(() => LocalKeyFileProvider.open(join(dir, 'missing.key'), { create: false })).toThrow(KeyProviderError);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect((await wrappedKeys(t)).filter((k) => k.purpose === 'data').map((k) => k.keyId)).toEqual(stored);
    });
  });

  it('seals each write with a fresh nonce: creates of the same resource differ in nonce and ciphertext', async () => {
    const body = patient('Twin');
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await fhir.post('Patient', body)).body.id);
    const rows = await Promise.all(ids.map((id) => currentRow(t, 'Patient', id)));
    const [a, b] = rows;
    expect(a?.keyId).toBe(b?.keyId);
    expect(a?.iv.length).toBe(12);
    expect(a?.iv.equals(b?.iv ?? Buffer.alloc(0))).toBe(false);
    expect(a?.body.equals(b?.body ?? Buffer.alloc(0))).toBe(false);
    expect(new Set(rows.map((r) => r.iv.toString('hex'))).size).toBe(rows.length);
    for (const row of rows) {
      const { rows: uses } = await t.ward.db.query<{ n: unknown }>('SELECT count(*) AS n FROM ward_resource_version WHERE iv = $1', [
        row.iv,
      ]);
      expect(Number(uses[0]?.n), 'a nonce is used by exactly one stored version').toBe(1);
    }
  });
});
