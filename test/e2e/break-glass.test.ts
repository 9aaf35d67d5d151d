import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ward } from '../../src/app/ward.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { sessionClient, stepUp, workforceUser } from '../support/web-session.js';

const JUSTIFICATION = 'Unresponsive in the emergency department, no chart access through the care team';

async function audited(ward: Ward, request: () => Promise<Call>): Promise<{ res: Call; entries: any[] }> {
  const before = await lastAuditSeq(ward);
  const res = await request();
  return { res, entries: (await auditRowsAfter(ward, before)).map((r) => r.parsed) };
}

describe.each(engines())('break-glass on %s', (engine) => {
  let t: TestWard;
  const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  let service: FhirClient;
  let doctor: FhirClient;
  let officer: FhirClient;
  let patient: string;
  let obs: string;
  let sud: string;

  const tokenAt = (role: string, sub: string, scope = 'user/*.cruds') =>
    t.token({ role, sub, scope, ttl: '3h' }).then((tk) => fhirClient(t, tk));

  beforeAll(async () => {
    t = await openTestWard(engine);
    t.setNow(start);
    service = fhirClient(t, await t.token(SERVICE));
    patient = (await service.post('Patient', { resourceType: 'Patient', name: [{ family: 'Glass' }] })).body.id;
    obs = (
      await service.post('Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${patient}` },
      })
    ).body.id;
    sud = (
      await service.post('Condition', {
        resourceType: 'Condition',
        subject: { reference: `Patient/${patient}` },
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F10.20' }] },
      })
    ).body.id;
    // Break-glass needs a recent MFA step-up (ADR 0014): the clinician works in a web session,
    // signed in a minute before `start`, and steps up at `start` with a TOTP code.
    t.setNow(new Date(start.getTime() - 60_000));
    const clinician = await workforceUser(t, 'bg.doc', { roles: ['physician'], practitioner: 'Practitioner/bg-doc' });
    t.setNow(start);
    doctor = sessionClient(t, await stepUp(t, clinician, clinician.session));
    officer = await tokenAt('privacy-officer', 'Practitioner/bg-po', 'user/*.rs');
  }, 120_000);
  afterAll(async () => t?.close());

  it('164.312(a)(2)(ii) · 170.315(d)(6): a clinician outside the patient’s relationships gives a reason and gets a 60-minute grant; access under it is marked in the audit log and ends with the window (fake clock)', async () => {
    expect((await doctor.get(`Observation/${obs}`)).status).toBe(404);

    const noReason = await doctor.post('/admin/break-glass', { patient, reasonCode: 'ETREAT', justification: '  ' });
    expect(noReason.status).toBe(400);
    expect(noReason.raw.body).not.toContain(patient);
    const frontDesk = await tokenAt('front-desk', 'Practitioner/bg-fd');
    const outsider = await audited(t.ward, () =>
      frontDesk.post('/admin/break-glass', { patient, reasonCode: 'ETREAT', justification: JUSTIFICATION }),
    );
    expect(outsider.res.status).toBe(403);
    expect(outsider.entries[0]).toMatchObject({ action: 'break-glass', decision: { effect: 'deny' }, outcome: { status: 403 } });

    const granted = await audited(t.ward, () =>
      doctor.post('/admin/break-glass', { patient, reasonCode: 'ETREAT', justification: JUSTIFICATION }),
    );
    expect(granted.res.status).toBe(201);
    const grant = granted.res.body;
    expect(grant).toMatchObject({ principal: 'Practitioner/bg-doc', patient, reasonCode: 'ETREAT', reviewStatus: 'open' });
    expect(Date.parse(grant.end) - Date.parse(grant.start)).toBe(60 * 60_000);
    expect(granted.entries).toHaveLength(1);
    expect(granted.entries[0]).toMatchObject({
      action: 'break-glass',
      patientId: patient,
      decision: { effect: 'permit' },
      outcome: { status: 201 },
      detail: { grant: grant.id, reasonCode: 'ETREAT', stepUp: 'totp', stepUpAt: start.toISOString(), alert: 'privacy-officer-review' },
    });
    // The justification may hold PHI: it is in neither the audit entry nor the database in the clear.
    expect(JSON.stringify(granted.entries[0])).not.toContain('emergency department');
    const { rows } = await t.ward.db.query<{ j: Buffer }>('SELECT justification AS j FROM ward_break_glass_grant');
    expect(Buffer.from(rows[0]?.j as Buffer).toString('utf8')).not.toContain('emergency');

    const read = await audited(t.ward, () => doctor.get(`Observation/${obs}`));
    expect(read.res.status).toBe(200);
    expect(read.entries[0].detail.breakGlass).toBe(grant.id);
    expect(read.entries[0].decision.reasons.join('\n')).toMatch(/break-glass: grant .* overrides relationship\/required/);
    const search = await audited(t.ward, () => doctor.get(`Observation?patient=${patient}`));
    expect(search.res.body.entry).toHaveLength(1);
    expect(search.entries[0].detail.breakGlass).toBe(grant.id);
    // Part 2 data in a medical emergency (42 CFR Part 2 §2.51) is lifted too, and marked.
    expect((await doctor.get(`Condition/${sud}`)).status).toBe(200);
    // The grant is this clinician's only.
    expect((await (await tokenAt('physician', 'Practitioner/bg-other')).get(`Observation/${obs}`)).status).toBe(404);

    t.setNow(new Date(start.getTime() + 61 * 60_000));
    try {
      const later = await tokenAt('physician', 'Practitioner/bg-doc');
      expect((await later.get(`Observation/${obs}`)).status).toBe(404);
    } finally {
      t.setNow(start);
    }
  });

  it('164.312(a)(2)(ii) · 170.315(d)(6): each grant raises an open review item for privacy officers, acknowledged or escalated once, audited; others get 403', async () => {
    const grant = (await doctor.post('/admin/break-glass', { patient, reasonCode: 'BTG', justification: JUSTIFICATION, minutes: 15 })).body;
    expect(Date.parse(grant.end) - Date.parse(grant.start)).toBe(15 * 60_000);
    const queue = await audited(t.ward, () => officer.get('/admin/break-glass/reviews?status=open'));
    expect(queue.res.status).toBe(200);
    const item = queue.res.body.grants.find((g: { id: string }) => g.id === grant.id);
    expect(item).toMatchObject({
      principal: 'Practitioner/bg-doc',
      patient,
      reasonCode: 'BTG',
      reviewStatus: 'open',
      justification: JUSTIFICATION,
    });
    expect(queue.entries[0]).toMatchObject({ action: 'break-glass-review', decision: { effect: 'permit' } });

    const escalated = await audited(t.ward, () => officer.post(`/admin/break-glass/reviews/${grant.id}`, { outcome: 'escalated' }));
    expect(escalated.res.status).toBe(200);
    expect(escalated.res.body).toMatchObject({ reviewStatus: 'escalated', reviewedBy: 'Practitioner/bg-po' });
    expect(escalated.entries[0]).toMatchObject({
      action: 'break-glass-review',
      patientId: patient,
      detail: { outcome: 'escalated', grant: grant.id },
    });
    expect((await officer.post(`/admin/break-glass/reviews/${grant.id}`, { outcome: 'acknowledged' })).status).toBe(409);
    const open = (await officer.get('/admin/break-glass/reviews?status=open')).body.grants.map((g: { id: string }) => g.id);
    expect(open).not.toContain(grant.id);

    for (const client of [doctor, await tokenAt('system-admin', 'Practitioner/bg-admin')]) {
      const refused = await audited(t.ward, () => client.get('/admin/break-glass/reviews'));
      expect(refused.res.status).toBe(403);
      expect(refused.res.raw.body).not.toContain(JUSTIFICATION);
      expect(refused.entries[0]).toMatchObject({ action: 'break-glass-review', decision: { effect: 'deny' }, outcome: { status: 403 } });
    }
  });
});
