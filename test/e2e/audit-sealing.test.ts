import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditVerify } from '../../src/app/audit-commands.js';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { AuditSealer, auditRowOf, describeFault, treeHeadSignatureValid } from '../../src/audit/index.js';
import { insertAuditRows, readHeads, readNewestHead } from '../../src/store/index.js';
import { lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { asSuperuserPastTriggers } from '../support/owner-sql.js';

const verify = (t: TestWard) => auditVerify(t.ward, operatorPrincipal('auditor'), operatorContext('cli'), {});

describe.each(engines())('the audit sealer on %s', (engine) => {
  let t: TestWard;
  let token: string;

  beforeAll(async () => {
    t = await openTestWard(engine);
    token = await t.token(SERVICE);
  }, 60_000);
  afterAll(() => t?.close());

  it('seals every entry under signed heads while requests arrive, and witnesses each head outside the database', async () => {
    const fhir = fhirClient(t, token);
    t.ward.sealer.start(10);
    const ids: string[] = [];
    for (let batch = 0; batch < 8; batch++) {
      const created = await Promise.all(
        Array.from({ length: 10 }, () => fhir.post('Patient', { resourceType: 'Patient', gender: 'other' })),
      );
      for (const c of created) ids.push(c.body.id);
      const reads = await Promise.all(ids.slice(-10).map((id) => fhir.get(`Patient/${id}`)));
      expect(reads.every((r) => r.status === 200)).toBe(true);
    }
    await t.ward.sealer.stop();
    // stop() waits only briefly for other transactions on the cluster; wait here for all of them.
    await t.ward.sealer.sealAll();

    const heads = await readHeads(t.ward.db, 0, 10_000);
    const newest = heads.at(-1);
    expect(newest?.treeSize).toBe(await lastAuditSeq(t.ward));
    for (const h of heads) {
      expect(
        treeHeadSignatureValid(t.ward.auditKey.publicKey, {
          treeSize: h.treeSize,
          rootHash: h.rootHash,
          timestamp: h.timestampMs,
          keyId: h.keyId,
          signature: h.signature,
        }),
      ).toBe(true);
    }
    const witnessed = readFileSync(t.config.auditWitnessFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(witnessed.map((w) => [w.treeSize, w.rootHash])).toEqual(heads.map((h) => [h.treeSize, h.rootHash.toString('hex')]));
    expect((await verify(t)).faults.map(describeFault)).toEqual([]);
  });

  it('records the number of a rolled-back entry as a gap, and the log still verifies', async () => {
    let rolledBack = 0;
    await t.ward.db
      .transaction(async (tx) => {
        const [seq] = await insertAuditRows(tx, [
          auditRowOf({
            time: new Date().toISOString(),
            who: { id: 'operator:test', kind: 'operator', roles: [] },
            action: 'migrate',
            where: { listener: 'cli' },
            purposeOfUse: 'HOPERAT',
            decision: { effect: 'none', reasons: [] },
            outcome: { status: 200 },
          }),
        ]);
        rolledBack = seq as number;
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(rolledBack).toBeGreaterThan(0);
    expect((await fhirClient(t, token).post('Patient', { resourceType: 'Patient', gender: 'male' })).status).toBe(201);
    await t.ward.sealer.sealAll();
    const newest = await readNewestHead(t.ward.db);
    expect(newest?.gaps).toContain(rolledBack);
    expect(newest?.lastSeq).toBeGreaterThan(rolledBack);
    expect((await verify(t)).faults.map(describeFault)).toEqual([]);
  });

  it('lets one sealer at a time extend the tree, so two instances never fork it', async () => {
    const other = new AuditSealer(t.ward.db, {
      signingKey: { privateKey: readKey(t), publicKey: t.ward.auditKey.publicKey },
      now: () => new Date(),
      witnesses: [],
      maxEntriesPerHead: 3,
    });
    const fhir = fhirClient(t, token);
    // This instance's sealer (the one with the witness) signs first, so the witness file exists.
    expect((await fhir.post('Patient', { resourceType: 'Patient', gender: 'female' })).status).toBe(201);
    await t.ward.sealer.sealAll();
    const work = Promise.all(Array.from({ length: 30 }, () => fhir.post('Patient', { resourceType: 'Patient', gender: 'female' })));
    const rounds = async (s: { sealRound(): Promise<unknown> }) => {
      for (let i = 0; i < 40; i++) await s.sealRound();
    };
    await Promise.all([work, rounds(other), rounds(t.ward.sealer), rounds(other)]);
    await other.sealAll();
    await t.ward.sealer.sealAll();
    // The second sealer has no witness: heads it signed are simply absent from the file, not faults.
    expect((await verify(t)).faults.map(describeFault)).toEqual([]);
  });

  it('refuses to seal an entry changed before it was sealed, and says which', async () => {
    expect((await fhirClient(t, token).post('Patient', { resourceType: 'Patient', gender: 'male' })).status).toBe(201);
    const seq = await lastAuditSeq(t.ward);
    await asSuperuserPastTriggers(t, `UPDATE ward_audit_entry SET entry = replace(entry, '"create"', '"read"') WHERE seq = ${seq}`);
    try {
      // Transactions of other test files on the same PostgreSQL cluster can hold the entry back
      // from being final for a few rounds; wait for it rather than expect one round to do.
      const result = await roundsUntilFinal(t.ward.sealer);
      expect(result).toEqual({ sealed: false, reason: 'entry-does-not-match-leaf' });
      expect(t.ward.sealer.status.lastError).toBe(`entry ${seq} does not match its leaf hash; sealing stopped`);
    } finally {
      await asSuperuserPastTriggers(t, `UPDATE ward_audit_entry SET entry = replace(entry, '"read"', '"create"') WHERE seq = ${seq}`);
    }
    await t.ward.sealer.sealAll();
    expect((await readNewestHead(t.ward.db))?.lastSeq).toBeGreaterThanOrEqual(seq);
  });

  it('reports a refused entry once while the refusal lasts, however many rounds retry it', async () => {
    const events: unknown[] = [];
    const watcher = new AuditSealer(t.ward.db, {
      signingKey: { privateKey: readKey(t), publicKey: t.ward.auditKey.publicKey },
      now: () => new Date(),
      witnesses: [],
      maxEntriesPerHead: 1000,
      onEvent: (e) => events.push(e),
    });
    await t.ward.sealer.sealAll();
    expect((await fhirClient(t, token).post('Patient', { resourceType: 'Patient', gender: 'male' })).status).toBe(201);
    const seq = await lastAuditSeq(t.ward);
    await asSuperuserPastTriggers(t, `UPDATE ward_audit_entry SET entry = replace(entry, '"create"', '"read"') WHERE seq = ${seq}`);
    try {
      await roundsUntilFinal(watcher);
      for (let i = 0; i < 5; i++) await watcher.sealRound();
    } finally {
      await asSuperuserPastTriggers(t, `UPDATE ward_audit_entry SET entry = replace(entry, '"read"', '"create"') WHERE seq = ${seq}`);
    }
    expect(events).toEqual([{ kind: 'entry-does-not-match-leaf', seq }]);
    await watcher.sealAll();
    expect(events.at(-1)).toMatchObject({ kind: 'sealed' });
  });

  it('GET /admin/audit/status shows the tree size, the newest signed head, what waits, and the last verification, to auditors only', async () => {
    const officer = fhirClient(t, await t.token({ role: 'privacy-officer', sub: 'Practitioner/po-status', scope: 'user/AuditEvent.rs' }));
    await t.ward.sealer.sealAll();
    await verify(t);
    expect((await fhirClient(t, token).post('Patient', { resourceType: 'Patient', gender: 'male' })).status).toBe(201);
    const res = await officer.get('/admin/audit/status');
    expect(res.status).toBe(200);
    const head = await readNewestHead(t.ward.db);
    expect(res.body).toMatchObject({
      treeSize: head?.treeSize,
      newestHead: {
        treeSize: head?.treeSize,
        lastSeq: head?.lastSeq,
        rootHash: head?.rootHash.toString('hex'),
        keyId: t.ward.auditKey.keyId,
      },
      lastVerification: { by: 'operator:auditor', result: 'verified', faults: 0 },
    });
    // The token minted, the verification's own entry and the create wait for the next head.
    expect(res.body.unsealedEntries).toBeGreaterThanOrEqual(2);
    expect(res.body.sealingLagMs).toBeGreaterThanOrEqual(0);
    expect(res.body.sealer.lastRoundAt).toMatch(/Z$/);

    const doctor = await fhirClient(t, token).get('/admin/audit/status');
    expect(doctor.status).toBe(403);
    expect(doctor.body.resourceType).toBe('OperationOutcome');
  });
});

/** The same signing key a second app instance would load from its key file. */
function readKey(t: TestWard) {
  return createPrivateKey(readFileSync(`${t.config.dataDir}/keys/audit-signing.pem`, 'utf8'));
}

/** Seal rounds until the newest entry is final (the round does something other than wait), at most ~10 s. */
async function roundsUntilFinal(sealer: AuditSealer): Promise<unknown> {
  for (let i = 0; i < 500; i++) {
    const result = await sealer.sealRound();
    if (result.sealed || result.reason !== 'nothing-final') return result;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the newest audit entry did not become final');
}
