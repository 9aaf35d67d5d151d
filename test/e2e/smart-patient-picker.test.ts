import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';
import { authorizationRequest, exchange, registerApp, signInAndConsent, workforceWithTotp } from '../support/smart-app.js';

const CEILING = 'openid fhirUser launch launch/patient patient/Patient.rs patient/Observation.rs';
const SCOPE = 'openid fhirUser launch/patient patient/Patient.rs patient/Observation.rs';

describe.each(engines())('SMART standalone launch: patient picker on %s', (engine) => {
  let t: TestWard;
  let app: Awaited<ReturnType<typeof registerApp>>;
  let doctor: Awaited<ReturnType<typeof workforceWithTotp>>;
  let own: string;
  let other: string;
  let ownObservation: string;

  beforeAll(async () => {
    t = await openTestWard(engine);
    const writer = fhirClient(t, await t.token(SERVICE));
    own = (
      await writer.post('Patient', { resourceType: 'Patient', name: [{ family: 'Pickwell', given: ['Ada'] }], birthDate: '1970-02-03' })
    ).body.id;
    other = (await writer.post('Patient', { resourceType: 'Patient', name: [{ family: 'Pickwell', given: ['Secret'] }] })).body.id;
    ownObservation = (
      await writer.post('Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'Heart rate' },
        subject: { reference: `Patient/${own}` },
      })
    ).body.id;
    // The clinician is on one Pickwell's care team and has no relationship to the other.
    await writer.post('CareTeam', careTeam(own, 'Practitioner/dr-picker'));
    doctor = await workforceWithTotp(t, 'dr.picker', { practitioner: 'Practitioner/dr-picker' });
    app = await registerApp(t, CEILING, 'Chart Viewer');
  });
  afterAll(async () => t?.close());

  it('170.315(g)(10)(v)(A) · 170.215(c)(2) · 164.312(a)(1): a clinician launching an app standalone with launch/patient picks the patient — only those policy lets them see are offered — and the token carries that patient; the app reads Patient and Observation with openid-client', async () => {
    const auth = await authorizationRequest(t, app.config, SCOPE);
    const before = await lastAuditSeq(t.ward);
    let offered: string[] = [];
    const { final, consentPage, pickerPage } = await signInAndConsent(t, auth, 'dr.picker', {
      factor: () => ({ code: doctor.totp.code() }),
      pick: {
        search: 'pickwell',
        choose: (ids) => {
          offered = ids;
          return ids[0];
        },
      },
    });
    expect(offered).toEqual([own]);
    expect(pickerPage?.body).toContain('Ada Pickwell, born 1970-02-03');
    expect(pickerPage?.body).not.toContain('Secret');
    expect(consentPage?.body).toContain('name="q"');
    const tokens = await exchange(app.config, auth, final);
    expect(tokens).toMatchObject({ patient: own, need_patient_banner: true });
    expect(tokens.claims()?.amr).toEqual(['pwd', 'otp']);
    const api = fhirClient(t, tokens.access_token);
    expect((await api.get(`Patient/${own}`)).body.name[0].given).toEqual(['Ada']);
    const observations = await api.get(`Observation?patient=${own}`);
    expect(observations.body.entry.map((e: any) => e.resource.id)).toEqual([ownObservation]);
    expect([403, 404]).toContain((await api.get(`Patient/${other}`)).status);
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    // The picker's search went through the vault as the clinician, with the name replaced by its parameter.
    expect(rows.find((e) => e.action === 'search' && e.resourceType === 'Patient')).toMatchObject({
      who: { id: 'Practitioner/dr-picker', clientId: 'ward-patient-picker' },
      detail: { query: 'name=[name]&_count=20' },
      returned: [`Patient/${own}`],
    });
    expect(JSON.stringify(rows)).not.toContain('ickwell');
    expect(rows.find((e) => e.action === 'consent')).toMatchObject({
      detail: { decision: 'approved', patient: own, patientChosenBy: 'picker' },
    });
  });

  it('164.312(a)(1) · 170.315(g)(10)(v)(A): a forged patient id in the picker form — a patient the clinician may not see — is refused to the app (access_denied) and audited, by the vault and as a denied consent', async () => {
    const auth = await authorizationRequest(t, app.config, SCOPE);
    const before = await lastAuditSeq(t.ward);
    const { final } = await signInAndConsent(t, auth, 'dr.picker', {
      factor: () => ({ code: doctor.totp.code() }),
      pick: { search: 'pickwell', choose: () => other },
    });
    const back = new URL(final.location ?? 'https://x.invalid');
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('code')).toBeNull();
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    const refusedRead = rows.find((e) => e.action === 'read' && e.resourceType === 'Patient');
    expect(refusedRead).toMatchObject({ who: { id: 'Practitioner/dr-picker' }, decision: { effect: 'deny' } });
    expect([403, 404]).toContain(refusedRead.outcome.status);
    expect(rows.find((e) => e.action === 'consent')).toMatchObject({
      outcome: { status: 403 },
      detail: { decision: 'denied', reason: 'patient-not-permitted' },
    });
    expect(rows.some((e) => e.action === 'token-grant')).toBe(false);
  });

  it('170.315(g)(10)(v)(A): approving without choosing a patient is refused (access_denied) and audited', async () => {
    const auth = await authorizationRequest(t, app.config, SCOPE);
    const before = await lastAuditSeq(t.ward);
    const { final } = await signInAndConsent(t, auth, 'dr.picker', {
      factor: () => ({ code: doctor.totp.code() }),
      pick: { search: 'nobody-matches', choose: () => undefined },
    });
    expect(new URL(final.location ?? 'https://x.invalid').searchParams.get('error')).toBe('access_denied');
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(rows.find((e) => e.action === 'consent')).toMatchObject({ detail: { decision: 'denied', reason: 'no-patient-chosen' } });
  });
});
