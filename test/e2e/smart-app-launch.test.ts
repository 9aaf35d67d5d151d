import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { authorizationRequest, enrolledUser, exchange, registerApp, signInAndConsent } from '../support/smart-app.js';

const CEILING =
  'openid fhirUser launch launch/patient offline_access online_access patient/*.rs patient/*.read patient/Observation.rs patient/Patient.rs user/Patient.rs user/Observation.rs';

describe.each(engines())('SMART App Launch (authorization code) on %s', (engine) => {
  let t: TestWard;
  let patientA: string;
  let patientB: string;
  let obsA: string;
  let _obsB: string;

  beforeAll(async () => {
    t = await openTestWard(engine);
    const doctor = fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/pr-smart', scope: 'user/*.cruds' }));
    patientA = (await doctor.post('Patient', { resourceType: 'Patient', name: [{ family: 'Launch-Alpha' }] })).body.id;
    patientB = (await doctor.post('Patient', { resourceType: 'Patient', name: [{ family: 'Launch-Bravo' }] })).body.id;
    const obs = (patient: string, code: string) => ({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code }] }],
      code: { text: 'Heart rate' },
      subject: { reference: `Patient/${patient}` },
    });
    obsA = (await doctor.post('Observation', obs(patientA, 'vital-signs'))).body.id;
    _obsB = (await doctor.post('Observation', obs(patientB, 'vital-signs'))).body.id;
    await enrolledUser(t, 'alpha.patient', { roles: ['patient'], patient: patientA });
    await enrolledUser(t, 'dr.launch', { roles: ['physician'], practitioner: 'Practitioner/pr-smart' });
  });
  afterAll(async () => t?.close());

  it("170.315(g)(10)(v)(A) · 170.215(c)(2): a standalone patient launch with openid-client reads the patient's own Patient and Observation; the token response carries patient and fhirUser", async () => {
    const app = await registerApp(t, CEILING);
    const auth = await authorizationRequest(t, app.config, 'openid fhirUser launch/patient patient/Patient.rs patient/Observation.rs');
    const { final, consentPage } = await signInAndConsent(t, auth, 'alpha.patient');
    expect(consentPage?.body).toContain('Read and search your observations');
    expect(consentPage?.body).toContain('Health Diary &#60;b&#62;');
    expect(consentPage?.headers['content-security-policy']).toMatch(/style-src 'nonce-[^']+'/);
    const tokens = await exchange(app.config, auth, final);
    expect(tokens).toMatchObject({ token_type: 'bearer', patient: patientA, need_patient_banner: true });
    expect(tokens.scope?.split(' ').sort()).toEqual([
      'fhirUser',
      'launch/patient',
      'openid',
      'patient/Observation.rs',
      'patient/Patient.rs',
    ]);
    expect(tokens.claims()?.fhirUser).toBe(`${t.config.baseUrl}/fhir/Patient/${patientA}`);
    expect(tokens.refresh_token).toBeUndefined();
    const api = fhirClient(t, tokens.access_token);
    expect((await api.get(`Patient/${patientA}`)).body.name[0].family).toBe('Launch-Alpha');
    const search = await api.get(`Observation?patient=${patientA}`);
    expect(search.status).toBe(200);
    expect(search.body.entry.map((e: any) => e.resource.id)).toEqual([obsA]);
  });
});
