import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDISCLOSURE_NOTICE } from '../../src/policy/index.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';
import { sessionClient, stepUp, workforceUser } from '../support/web-session.js';

/**
 * A scripted 42 CFR Part 2 scenario over a fake clock: one patient with an SUD diagnosis and an
 * SUD counseling note; a general TPO consent to one physician, one to an intermediary
 * (an organization), a combined consent, a separate consent for notes; members of the
 * intermediary, an emergency physician under break-glass, a service; and the privacy officer's
 * accounting three and a half years later.
 */
const NOW = new Date('2025-06-15T12:00:00.000Z');
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const HIE = 'Organization/hie';
const NOTICE_URL = 'https://ward.health/fhir/StructureDefinition/part2-redisclosure-notice';
const CONSENT_URL = 'https://ward.health/fhir/StructureDefinition/part2-consent';
const JUSTIFICATION = 'Found unresponsive with a suspected overdose, history unknown';
const X = 'Practitioner/x-doc';
const Y = 'Practitioner/y-doc';
const Z = 'Practitioner/er-doc';
const COUNSELOR = 'Practitioner/counselor';

const consent = (patientId: string, provision: Record<string, unknown>) => ({
  resourceType: 'Consent',
  status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: `Patient/${patientId}` },
  policyRule: { coding: [{ system: ACT, code: 'OPTIN' }] },
  provision,
});
const actor = (reference: string) => ({
  role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
  reference: { reference },
});
/** A general consent for treatment, payment and operations naming the recipient and these classes. */
const tpoConsent = (patientId: string, recipient: string, labels: string[]) =>
  consent(patientId, {
    type: 'permit',
    actor: [actor(recipient)],
    action: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access' }] }],
    purpose: ['TREAT', 'HPAYMT', 'HOPERAT'].map((code) => ({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code })),
    securityLabel: labels.map((code) => ({ system: ACT, code })),
  });

const extensions = (resource: any, url: string): any[] => (resource?.meta?.extension ?? []).filter((e: any) => e.url === url);
const detailOf = (event: any): Record<string, string> =>
  Object.fromEntries(
    event.entity.flatMap((e: any) => (e.detail ?? []).map((d: { type: string; valueString: string }) => [d.type, d.valueString])),
  );

describe.each(engines())('42 CFR Part 2 on %s', (engine) => {
  let t: TestWard;
  const id: Record<string, string> = {};
  const res = new Map<string, Call>();
  const seqOf = new Map<string, number>();
  const entryOf = new Map<string, any>();

  async function as(sub: string, roles: string[], scope = 'user/*.rs', organizations?: string[]): Promise<FhirClient> {
    const minted = await t.ward.tokens.mint({
      clientId: 'ward-web',
      ttlSeconds: 3600,
      sub,
      roles,
      scope,
      ...(organizations ? { organizations } : {}),
    });
    return fhirClient(t, minted.token);
  }
  const service = () => as('system', ['system'], 'system/*.cruds');
  const officer = () => as('Practitioner/po-1', ['privacy-officer']);

  /** Runs one request at a given time and keeps its response and its (last) audit entry. */
  async function at(time: string, label: string, send: () => Promise<Call>): Promise<Call> {
    t.setNow(new Date(time));
    const before = await lastAuditSeq(t.ward);
    const call = await send();
    const rows = await auditRowsAfter(t.ward, before);
    const last = rows[rows.length - 1];
    res.set(label, call);
    seqOf.set(label, last?.seq as number);
    entryOf.set(label, last?.parsed);
    return call;
  }
  const make = async (type: string, body: Record<string, unknown>, who?: FhirClient): Promise<string> => {
    const created = await (who ?? (await service())).post(type, body);
    expect(created.status, type).toBe(201);
    return created.body.id;
  };

  beforeAll(async () => {
    t = await openTestWard(engine);
    t.setNow(new Date('2021-01-01T08:00:00Z'));
    id.P = await make('Patient', { resourceType: 'Patient', name: [{ family: 'Partwo' }] });
    await make('CareTeam', careTeam(id.P, X, Y, 'Practitioner/hie-1', 'Practitioner/hie-2', COUNSELOR));
    id.sud = await make('Condition', {
      resourceType: 'Condition',
      subject: { reference: `Patient/${id.P}` },
      code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'F11.20' }] },
    });
    id.plain = await make('Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${id.P}` },
    });
    // The counselor writes the note (its originator may): Part 2 data and a psychotherapy note, an SUD counseling note.
    id.note = await make(
      'Observation',
      {
        resourceType: 'Observation',
        meta: { security: [ACT, ACT].map((system, i) => ({ system, code: ['ETH', 'PSYTHPN'][i] })) },
        status: 'final',
        code: { text: 'SUD counseling session note' },
        subject: { reference: `Patient/${id.P}` },
        performer: [{ reference: COUNSELOR }],
        valueString: 'Discussed triggers and relapse plan',
      },
      await as(COUNSELOR, ['physician'], 'user/*.cruds'),
    );
    id.general = await make('Consent', tpoConsent(id.P, X, ['ETH']));
    id.intermediary = await make('Consent', tpoConsent(id.P, HIE, ['ETH']));

    const x = () => as(X, ['physician']);
    await at('2021-03-01T10:00:00Z', 'x read, older than three years', async () => (await x()).get(`Condition/${id.sud}`));
    await at('2023-02-01T10:00:00Z', 'x read', async () => (await x()).get(`Condition/${id.sud}`));
    await at('2023-02-02T10:00:00Z', 'x search', async () => (await x()).get(`Condition?patient=${id.P}`));
    await at('2023-02-03T10:00:00Z', 'x reads a plain observation', async () => (await x()).get(`Observation/${id.plain}`));
    await at('2023-02-04T10:00:00Z', 'x note under the general consent', async () => (await x()).get(`Observation/${id.note}`));
    id.combined = await make('Consent', tpoConsent(id.P, X, ['ETH', 'PSYTHPN']));
    await at('2023-02-06T10:00:00Z', 'x note under a combined consent', async () => (await x()).get(`Observation/${id.note}`));
    await at('2023-02-06T10:01:00Z', 'x searches notes under a combined consent', async () =>
      (await x()).get(`Observation?patient=${id.P}&_total=accurate`),
    );
    expect((await (await service()).delete(`Consent/${id.combined}`)).status).toBe(200);
    await at('2023-03-01T10:00:00Z', 'hie-1 read', async () =>
      (await as('Practitioner/hie-1', ['physician'], 'user/*.rs', [HIE])).get(`Condition/${id.sud}`),
    );
    await at('2023-03-02T10:00:00Z', 'hie-2 read', async () =>
      (await as('Practitioner/hie-2', ['physician'], 'user/*.rs', [HIE])).get(`Condition/${id.sud}`),
    );
    t.setNow(new Date('2023-04-01T10:00:00Z'));
    id.notes = await make('Consent', tpoConsent(id.P, X, ['PSYTHPN']));
    await at('2023-04-02T10:00:00Z', 'x note under a separate consent', async () => (await x()).get(`Observation/${id.note}`));
    await at('2023-04-03T10:00:00Z', 'y note', async () => (await as(Y, ['physician'])).get(`Observation/${id.note}`));

    // Break-glass needs a recent MFA step-up in a web session (ADR 0014): the emergency physician
    // signs in a minute before and steps up with a TOTP code at the moment of the request.
    t.setNow(new Date('2024-01-01T09:59:00Z'));
    const erDoc = await workforceUser(t, 'er.doc', { roles: ['physician'], practitioner: Z, organization: 'Organization/er-unit' });
    t.setNow(new Date('2024-01-01T10:00:00Z'));
    const zSession = sessionClient(t, await stepUp(t, erDoc, erDoc.session));
    const z = async () => zSession;
    await at('2024-01-01T10:00:00Z', 'z break-glass', async () =>
      (await z()).post('/admin/break-glass', { patient: id.P, reasonCode: 'ETREAT', justification: JUSTIFICATION }),
    );
    await at('2024-01-01T10:05:00Z', 'z read', async () => (await z()).get(`Condition/${id.sud}`));
    await at('2024-01-01T10:06:00Z', 'z note', async () => (await z()).get(`Observation/${id.note}`));
    await at('2024-02-01T10:00:00Z', 'service read', async () => (await service()).get(`Condition/${id.sud}`));
    t.setNow(NOW);
  }, 180_000);
  afterAll(async () => t?.close());

  it('42 CFR Part 2 §2.31(b) (SUD counseling notes): a general TPO consent, a combined consent and break-glass do not reach a counseling note; a separate consent for notes does, for its recipient only', () => {
    expect(res.get('x read')?.status).toBe(200);
    for (const refused of ['x note under the general consent', 'x note under a combined consent', 'y note', 'z note']) {
      expect(res.get(refused)?.status, refused).toBe(404);
      expect(res.get(refused)?.raw.body, refused).not.toContain('relapse');
      expect(entryOf.get(refused)?.decision.reasons.join('\n'), refused).toContain('label/sud-counseling-note');
    }
    // Searching does not reach it either, and the total does not count it.
    const search = res.get('x searches notes under a combined consent')?.body;
    expect(search.total).toBe(1);
    expect(search.entry.map((e: any) => e.resource.id)).toEqual([id.plain]);
    const granted = res.get('x note under a separate consent');
    expect(granted?.status).toBe(200);
    expect(granted?.body.valueString).toBe('Discussed triggers and relapse plan');
    expect(entryOf.get('x note under a separate consent')?.decision.reasons.join('\n')).toMatch(/separate consent for notes/);
  });

  it('42 CFR Part 2 §2.32: a read or search that includes Part 2 data carries the redisclosure notice and the Consent it was disclosed under; other data does not', () => {
    const read = res.get('x read')?.body;
    expect(extensions(read, NOTICE_URL)).toEqual([{ url: NOTICE_URL, valueString: REDISCLOSURE_NOTICE }]);
    expect(REDISCLOSURE_NOTICE).toMatch(
      /^This record which has been disclosed to you is protected by Federal confidentiality rules \(42 CFR part 2\)/,
    );
    expect(extensions(read, CONSENT_URL)).toEqual([{ url: CONSENT_URL, valueReference: { reference: `Consent/${id.general}` } }]);
    expect(read.meta.security).toContainEqual({ system: ACT, code: 'NORDSCLCDS' });

    const bundle = res.get('x search')?.body;
    expect(bundle.entry).toHaveLength(1);
    expect(extensions(bundle, NOTICE_URL)[0].valueString).toBe(REDISCLOSURE_NOTICE);
    expect(extensions(bundle, CONSENT_URL).map((e) => e.valueReference.reference)).toEqual([`Consent/${id.general}`]);
    expect(bundle.meta.security).toEqual([{ system: ACT, code: 'NORDSCLCDS' }]);
    expect(extensions(bundle.entry[0].resource, NOTICE_URL)).toHaveLength(1);

    // The counseling note under its own consent names that consent.
    const note = res.get('x note under a separate consent')?.body;
    expect(extensions(note, CONSENT_URL).map((e) => e.valueReference.reference)).toEqual([`Consent/${id.notes}`]);
    // Non-Part 2 data carries no notice; a search without Part 2 data neither.
    expect(res.get('x reads a plain observation')?.body.meta?.extension).toBeUndefined();
    expect(res.get('x searches notes under a combined consent')?.body.meta).toBeUndefined();
  });

  it('164.312(a)(2)(ii) · 42 CFR §2.51 (break-glass record): a break-glass read of a Part 2 record is audited with who received it and their affiliation, who accessed, when, and the nature of the emergency — never the justification', async () => {
    const grant = res.get('z break-glass')?.body;
    expect(grant).toMatchObject({ reasonCode: 'ETREAT', reviewStatus: 'open' });
    expect(res.get('z read')?.status).toBe(200);
    const entry = entryOf.get('z read');
    expect(entry.detail).toMatchObject({
      breakGlass: grant.id,
      'part2.emergency.disclosed': `Condition/${id.sud}@${id.P}`,
      'part2.emergency.recipient': `${Z} (client ward-web)`,
      'part2.emergency.affiliation': 'Organization/er-unit',
      'part2.emergency.accessedBy': Z,
      'part2.emergency.time': '2024-01-01T10:05:00.000Z',
      'part2.emergency.nature': 'ETREAT (Emergency Treatment)',
      'part2.emergency.grant': `break-glass/${grant.id}`,
    });
    expect(entry.detail['part2.consents']).toBeUndefined();
    expect(JSON.stringify(entry)).not.toContain('overdose');

    // The auditor API's AuditEvent view shows the four fields.
    const po = await officer();
    const event = await po.get(`AuditEvent/${seqOf.get('z read')}`);
    expect(event.status).toBe(200);
    expect(detailOf(event.body)).toMatchObject({
      'part2.emergency.recipient': `${Z} (client ward-web)`,
      'part2.emergency.affiliation': 'Organization/er-unit',
      'part2.emergency.time': '2024-01-01T10:05:00.000Z',
      'part2.emergency.nature': 'ETREAT (Emergency Treatment)',
    });
    // So does the review queue, beside the (sealed, officer-only) justification.
    const queue = await po.get('/admin/break-glass/reviews?status=open');
    const item = queue.body.grants.find((g: { id: string }) => g.id === grant.id);
    expect(item.justification).toBe(JUSTIFICATION);
    expect(item.part2Emergency).toEqual([
      {
        auditEvent: `AuditEvent/${seqOf.get('z read')}`,
        disclosed: [`Condition/${id.sud}@${id.P}`],
        recipient: `${Z} (client ward-web)`,
        affiliation: 'Organization/er-unit',
        accessedBy: Z,
        time: '2024-01-01T10:05:00.000Z',
        nature: 'ETREAT (Emergency Treatment)',
        grant: `break-glass/${grant.id}`,
      },
    ]);
  });

  it('42 CFR Part 2 §2.25 · §2.24: the accounting lists exactly the consented Part 2 disclosures of the last 3 years with recipient, date, description and consent, and the intermediary’s recipients; it is audited', async () => {
    const po = await officer();
    const before = await lastAuditSeq(t.ward);
    const report = await po.get(`/admin/audit/part2-disclosures?patient=${id.P}`);
    expect(report.status).toBe(200);
    expect(report.body.patient).toBe(id.P);
    expect(report.body.window).toEqual({ from: '2022-06-15T12:00:00.000Z', to: '2025-06-15T12:00:00.000Z' });
    const listed = report.body.disclosures.map((d: any) => d.auditEvent);
    expect(listed).toEqual(
      ['x read', 'x search', 'hie-1 read', 'hie-2 read', 'x note under a separate consent'].map((l) => `AuditEvent/${seqOf.get(l)}`),
    );
    expect(report.body.disclosures[0]).toEqual({
      date: '2023-02-01T10:00:00.000Z',
      recipient: { name: X, client: 'ward-web' },
      description: `read of Condition/${id.sud}: Part 2 record(s) Condition/${id.sud}`,
      purpose: { code: 'TREAT', display: 'treatment' },
      consents: [`Consent/${id.general}`],
      auditEvent: `AuditEvent/${seqOf.get('x read')}`,
    });
    expect(report.body.disclosures[1].description).toBe(`search of Condition: Part 2 record(s) Condition/${id.sud}`);
    expect(report.body.disclosures[2]).toMatchObject({
      recipient: { name: 'Practitioner/hie-1', affiliation: HIE },
      consents: [`Consent/${id.intermediary}`],
      intermediary: HIE,
    });
    expect(report.body.disclosures[4].consents).toEqual([`Consent/${id.notes}`]);
    expect(report.body.intermediaries).toEqual([
      { intermediary: HIE, consents: [`Consent/${id.intermediary}`], recipients: ['Practitioner/hie-1', 'Practitioner/hie-2'] },
    ]);
    const entries = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: 'audit-report',
      who: { id: 'Practitioner/po-1' },
      patientId: id.P,
      decision: { effect: 'permit' },
      detail: { report: 'part2-disclosures', listed: '5' },
    });
    // A window asked for further back is still cut at three years; an unknown patient is 404.
    expect((await po.get(`/admin/audit/part2-disclosures?patient=${id.P}&from=2020-01-01`)).body.disclosures).toHaveLength(5);
    expect((await po.get('/admin/audit/part2-disclosures?patient=missing')).status).toBe(404);
    expect((await po.get('/admin/audit/part2-disclosures')).status).toBe(400);
  });

  it('42 CFR Part 2 §2.25 · §2.24: anyone but a privacy officer asking for the Part 2 accounting gets 403 with no data, and the refusal is audited', async () => {
    const askers: [string, FhirClient][] = [
      ['auditor', await as('Practitioner/aud-1', ['auditor'], 'user/AuditEvent.rs')],
      ['physician', await as(X, ['physician'])],
      ['system-admin', await as('Practitioner/adm-1', ['system-admin'])],
      ['patient', await as(`Patient/${id.P}`, ['patient'], 'patient/*.rs')],
    ];
    for (const [who, client] of askers) {
      const before = await lastAuditSeq(t.ward);
      const refused = await client.get(`/admin/audit/part2-disclosures?patient=${id.P}`);
      expect(refused.status, who).toBe(403);
      expect(refused.raw.body, who).not.toContain(id.sud);
      const entries = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
      expect(entries[0], who).toMatchObject({ action: 'audit-report', decision: { effect: 'deny' }, outcome: { status: 403 } });
    }
  });

  it('42 CFR Part 2 §2.32: a disclosed copy written back does not store the notice or the Consent reference (they describe one disclosure)', async () => {
    const copy = structuredClone(res.get('x read')?.body);
    const other = { url: 'https://example.org/fhir/StructureDefinition/kept', valueString: 'kept' };
    copy.meta.extension.push(other);
    const svc = await service();
    expect((await svc.put(`Condition/${id.sud}`, copy)).status).toBe(200);
    const stored = (await svc.get(`Condition/${id.sud}`)).body;
    expect(stored.meta.extension).toEqual([other]);
  });
});
