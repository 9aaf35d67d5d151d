import { join } from 'node:path';
import { AuditSealer, auditRowOf, FileWitness, verifyAuditLog } from '../src/audit/index.js';
import { loadOrCreatePrivateKey } from '../src/crypto/index.js';
import { insertAuditRows, openPostgres } from '../src/store/index.js';

export interface SealingFigures {
  readonly entries: number;
  /** Entries per second appended in batches of 1,000 (one INSERT each). */
  readonly appendPerSecond: number;
  /** Entries per second the sealer turned into signed, witnessed heads, from a backlog. */
  readonly sealPerSecond: number;
  readonly heads: number;
  /** Entries per second `ward audit verify` checked over the whole log. */
  readonly verifyPerSecond: number;
}

/**
 * Sealing and verification rates: appends `entries` audit entries as fast as the database takes
 * them, then lets a sealer (Ward's, with its key and a witness file) seal the backlog, then
 * verifies the whole log. Run after Ward has stopped, so nothing else competes.
 */
export async function measureSealing(databaseUrl: string, dataDir: string, entries: number): Promise<SealingFigures> {
  const db = openPostgres(databaseUrl, { max: 4, applicationName: 'ward-bench-sealing' });
  try {
    const sealer = new AuditSealer(db, {
      signingKey: loadOrCreatePrivateKey(join(dataDir, 'keys', 'audit-signing.pem'), 'ed25519'),
      now: () => new Date(),
      witnesses: [new FileWitness(join(dataDir, 'audit-witness.log'))],
      maxEntriesPerHead: 50_000,
    });
    await sealer.sealAll();
    const before = Date.now();
    for (let done = 0; done < entries; done += 1000) {
      const rows = Array.from({ length: Math.min(1000, entries - done) }, (_, i) =>
        auditRowOf({
          time: new Date().toISOString(),
          who: { id: 'Practitioner/bench', kind: 'user', roles: ['physician'], clientId: 'ward-cli' },
          action: 'read',
          resourceType: 'Observation',
          resourceId: `bench-${done + i}`,
          where: { listener: 'http', method: 'GET', route: '/fhir/:type/:id' },
          purposeOfUse: 'TREAT',
          decision: { effect: 'permit', reasons: ['role physician may read Observation'] },
          outcome: { status: 200 },
        }),
      );
      await insertAuditRows(db, rows);
    }
    const appended = Date.now();
    let heads = 0;
    for (;;) {
      const result = await sealer.sealRound();
      if (result.sealed) heads += 1;
      else break;
    }
    await sealer.sealAll();
    const sealed = Date.now();
    const { publicKey } = loadOrCreatePrivateKey(join(dataDir, 'keys', 'audit-signing.pem'), 'ed25519');
    const report = await verifyAuditLog(db, { publicKey, witnessPath: join(dataDir, 'audit-witness.log') });
    const verified = Date.now();
    if (!report.ok) throw new Error(`the benchmark's audit log did not verify: ${report.faults.length} faults`);
    return {
      entries,
      appendPerSecond: entries / ((appended - before) / 1000),
      sealPerSecond: entries / ((sealed - appended) / 1000),
      heads,
      verifyPerSecond: report.entries / ((verified - sealed) / 1000),
    };
  } finally {
    await db.close();
  }
}
