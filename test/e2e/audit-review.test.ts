import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';

const DAY_MS = 24 * 3600 * 1000;

describe.each(engines())('audit review sign-off and the missing off switch on %s', (engine) => {
  let t: TestWard;
  let officer: FhirClient;
  let auditor: FhirClient;
  let doctor: FhirClient;
  let sysadmin: FhirClient;
  // The log starts when the ward opens (its first entries record the keys it created), so the
  // scenario starts at the real time and moves on from there.
  const start = new Date();
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const periodStart = day(start);
  const periodEnd = day(new Date(start.getTime() + 30 * DAY_MS));

  /** Sets the clock and mints fresh tokens at that time (a token lives at most 24 hours). */
  async function at(date: Date): Promise<void> {
    t.setNow(date);
    const token = (role: string, sub: string, scope: string) => t.token({ role, sub, scope, ttl: '24h' });
    officer = fhirClient(t, await token('privacy-officer', 'Practitioner/po-review', 'user/AuditEvent.crs user/Patient.rs'));
    auditor = fhirClient(t, await token('auditor', 'Practitioner/aud-review', 'user/AuditEvent.rs'));
    doctor = fhirClient(t, await token('physician', 'Practitioner/doc-review', 'user/*.cruds'));
    sysadmin = fhirClient(t, await token('system-admin', 'Practitioner/admin-review', 'user/Organization.cruds'));
  }

  beforeAll(async () => {
    t = await openTestWard(engine, { WARD_AUDIT_REVIEW_INTERVAL_DAYS: '30' });
    await at(start);
  }, 120_000);
  afterAll(() => t?.close());

  describe('164.308(a)(1)(ii)(D): a reviewer signs off a period, and an overdue review is flagged', () => {
    it('164.308(a)(1)(ii)(D): a new install is not overdue; past the interval with no sign-off it is', async () => {
      const fresh = await officer.get('/admin/audit/status');
      expect(fresh.status).toBe(200);
      expect(fresh.body.review).toMatchObject({ intervalDays: 30, overdue: false, last: null });
      await at(new Date(start.getTime() + 40 * DAY_MS));
      const late = await officer.get('/admin/audit/reviews');
      expect(late.status).toBe(200);
      expect(late.body.schedule.overdue).toBe(true);
      expect(late.body.reviews).toEqual([]);
    });

    it('164.308(a)(1)(ii)(D): the privacy officer signs off a period; who, when, period and note are an audit entry, and the flag clears', async () => {
      const now = new Date(start.getTime() + 40 * DAY_MS);
      await at(now);
      const before = await lastAuditSeq(t.ward);
      const signed = await officer.post('/admin/audit/reviews', {
        periodStart,
        periodEnd,
        note: 'access reports and failures reviewed; nothing to follow up',
      });
      expect(signed.status).toBe(201);
      expect(signed.body).toMatchObject({ reviewedBy: 'Practitioner/po-review', periodStart, periodEnd });
      const entry = (await auditRowsAfter(t.ward, before)).find((r) => r.parsed.action === 'audit-review');
      expect(entry?.parsed).toMatchObject({
        who: { id: 'Practitioner/po-review', roles: ['privacy-officer'] },
        time: now.toISOString(),
        resourceType: 'AuditEvent',
        outcome: { status: 201 },
        detail: { periodStart, periodEnd, note: 'access reports and failures reviewed; nothing to follow up' },
      });

      const reviews = await auditor.get('/admin/audit/reviews');
      expect(reviews.status).toBe(200);
      expect(reviews.body.schedule).toEqual({
        intervalDays: 30,
        dueBy: new Date(now.getTime() + 30 * DAY_MS).toISOString(),
        overdue: false,
      });
      expect(reviews.body.reviews).toEqual([
        {
          auditEvent: `AuditEvent/${entry?.seq}`,
          reviewedBy: 'Practitioner/po-review',
          reviewedAt: now.toISOString(),
          periodStart,
          periodEnd,
          note: 'access reports and failures reviewed; nothing to follow up',
        },
      ]);
      // The sign-off is part of the log, so it reads back as an AuditEvent like any entry.
      expect((await auditor.get(`AuditEvent/${entry?.seq}`)).status).toBe(200);

      await at(new Date(now.getTime() + 31 * DAY_MS));
      const status = await officer.get('/admin/audit/status');
      expect(status.body.review).toMatchObject({ overdue: true, last: { reviewedBy: 'Practitioner/po-review', periodEnd } });
    });

    it('164.308(a)(1)(ii)(D): a read-only auditor or a physician cannot sign off; the refusal is audited', async () => {
      for (const [who, client] of [
        ['Practitioner/aud-review', auditor],
        ['Practitioner/doc-review', doctor],
      ] as const) {
        const before = await lastAuditSeq(t.ward);
        const r = await client.post('/admin/audit/reviews', { periodStart: '2031-06-01', periodEnd: '2031-06-30' });
        expect(r.status).toBe(403);
        const entries = (await auditRowsAfter(t.ward, before)).filter((e) => e.parsed.action === 'audit-review');
        expect(entries.map((e) => [e.parsed.who.id, e.parsed.outcome.status])).toEqual([[who, 403]]);
      }
    });

    it('164.308(a)(1)(ii)(D): a malformed sign-off is refused with the member at fault and stores no review', async () => {
      for (const body of [
        { periodStart: '2031-06-31', periodEnd: '2031-07-01' },
        { periodStart: '2031-07-01', periodEnd: '2031-06-01' },
        { periodStart: '2031-06-01', periodEnd: '2031-06-30', note: 'x'.repeat(501) },
        { periodStart: '2031-06-01', periodEnd: '2031-06-30', reviewer: 'someone else' },
        { periodStart: '2099-01-01', periodEnd: '2099-01-31' },
      ]) {
        const r = await officer.post('/admin/audit/reviews', body);
        expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
        expect(r.body.resourceType).toBe('OperationOutcome');
      }
      expect((await auditor.get('/admin/audit/reviews')).body.reviews).toHaveLength(1);
    });
  });

  describe('170.315(d)(2)(ii)–(iii): audit cannot be turned off, and every attempt is logged with user and time', () => {
    const attempts = [
      ['PUT', '/admin/audit/status', { enabled: false }],
      ['POST', '/admin/audit/status', { enabled: false }],
      ['PATCH', '/admin/audit/status', [{ op: 'replace', path: '/enabled', value: false }]],
      ['DELETE', '/admin/audit/status', undefined],
      ['PUT', '/admin/audit/config', { enabled: false, retentionYears: 1 }],
      ['POST', '/admin/audit/settings', { audit: 'off' }],
      ['DELETE', '/admin/audit/enabled', undefined],
    ] as const;

    it('170.315(d)(2)(ii)–(iii): a non-admin (physician, system administrator, read-only auditor) gets 403, audited with user and time', async () => {
      const now = new Date('2031-08-01T12:00:00.000Z');
      await at(now);
      for (const [who, client] of [
        ['Practitioner/doc-review', doctor],
        ['Practitioner/admin-review', sysadmin],
        ['Practitioner/aud-review', auditor],
      ] as const) {
        for (const [method, url, body] of attempts) {
          const before = await lastAuditSeq(t.ward);
          const r = await client.call(method, url, body, body === undefined ? {} : { 'content-type': 'application/json' });
          expect(r.status, `${who} ${method} ${url}`).toBe(403);
          const entries = await auditRowsAfter(t.ward, before);
          expect(entries.map((e) => e.parsed)).toEqual([
            expect.objectContaining({
              action: 'audit-configure',
              who: expect.objectContaining({ id: who }),
              time: now.toISOString(),
              outcome: expect.objectContaining({ status: 403 }),
              where: expect.objectContaining({ method }),
            }),
          ]);
        }
      }
    });

    it('170.315(d)(2)(ii)–(iii): the privacy officer gets 405 — there is no off switch — and audit keeps recording', async () => {
      const now = new Date('2031-08-02T12:00:00.000Z');
      await at(now);
      for (const [method, url, body] of attempts) {
        const before = await lastAuditSeq(t.ward);
        const r = await officer.call(method, url, body, body === undefined ? {} : { 'content-type': 'application/json' });
        expect(r.status, `${method} ${url}`).toBe(405);
        expect(r.body.resourceType).toBe('OperationOutcome');
        const entries = await auditRowsAfter(t.ward, before);
        expect(entries.map((e) => [e.parsed.action, e.parsed.who.id, e.parsed.time, e.parsed.outcome.status])).toEqual([
          ['audit-configure', 'Practitioner/po-review', now.toISOString(), 405],
        ]);
      }
      // Audit is still on: the next read is recorded as always.
      const before = await lastAuditSeq(t.ward);
      expect((await doctor.get('Patient?_count=1')).status).toBe(200);
      expect((await auditRowsAfter(t.ward, before)).map((e) => e.parsed.action)).toEqual(['search']);
    });

    it('170.315(d)(2)(ii)–(iii): without credentials the attempt gets 401 and is audited too', async () => {
      const before = await lastAuditSeq(t.ward);
      const r = await fhirClient(t).call('PUT', '/admin/audit/status', { enabled: false }, { 'content-type': 'application/json' });
      expect(r.status).toBe(401);
      expect((await auditRowsAfter(t.ward, before)).map((e) => e.parsed.outcome.status)).toEqual([401]);
    });
  });
});
