import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';

const SENTINEL = 'Zyxwvut-Sentinel-4417';

/**
 * Every interface meets bad input with a clear error and loses nothing: each bad request gets
 * its status and an OperationOutcome that does not echo the input, and the store is unchanged.
 */
describe.each(engines())('bad input on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;
  let existing: any;

  const counts = async () => {
    const { rows } = await t.ward.db.query<{ r: number; v: number }>(
      'SELECT (SELECT count(*)::int FROM ward_resource) AS r, (SELECT count(*)::int FROM ward_resource_version) AS v',
    );
    return rows[0];
  };

  beforeAll(async () => {
    t = await openTestWard(engine, { WARD_BODY_LIMIT_BYTES: '65536' });
    fhir = fhirClient(t, await t.token(SERVICE));
    existing = (await fhir.post('Patient', { resourceType: 'Patient', name: [{ family: 'Existing' }] })).body;
  });
  afterAll(async () => t.close());

  const cases: { name: string; status: number; code: string; run: (f: FhirClient) => Promise<{ status: number; body: any; raw: any }> }[] =
    [
      {
        name: 'malformed JSON',
        status: 400,
        code: 'WARD_MALFORMED_JSON',
        run: (f) => f.post('Patient', `{"resourceType":"Patient","name":[{"family":"${SENTINEL}"`),
      },
      {
        name: 'an empty body',
        status: 400,
        code: 'WARD_MALFORMED_JSON',
        run: (f) => f.call('POST', 'Patient', '', { 'content-type': 'application/fhir+json' }),
      },
      { name: 'a JSON array as a resource', status: 400, code: 'WARD_INVALID_RESOURCE', run: (f) => f.post('Patient', [SENTINEL]) },
      {
        name: 'a resource that fails validation',
        status: 400,
        code: 'WARD_INVALID_RESOURCE',
        run: (f) => f.post('Patient', { resourceType: 'Patient', gender: SENTINEL, birthDate: SENTINEL, [SENTINEL]: 1 }),
      },
      {
        name: 'a body of another resource type',
        status: 400,
        code: 'WARD_INVALID_RESOURCE',
        run: (f) => f.post('Patient', { resourceType: 'Observation', status: 'final', code: {} }),
      },
      {
        name: 'an unknown resource type',
        status: 404,
        code: 'WARD_UNKNOWN_TYPE',
        run: (f) => f.post('Patientt', { resourceType: 'Patientt' }),
      },
      { name: 'an unknown type on read', status: 404, code: 'WARD_UNKNOWN_TYPE', run: (f) => f.get(`${SENTINEL}/1`) },
      {
        name: 'an unknown search parameter',
        status: 400,
        code: 'WARD_UNKNOWN_PARAMETER',
        run: (f) => f.get(`Patient?nickname=${SENTINEL}`),
      },
      {
        name: 'an unsupported modifier',
        status: 400,
        code: 'WARD_UNKNOWN_PARAMETER',
        run: (f) => f.get(`Patient?name:contains=${SENTINEL}`),
      },
      {
        name: 'an unknown parameter in If-None-Exist',
        status: 400,
        code: 'WARD_UNKNOWN_PARAMETER',
        run: (f) => f.post('Patient', { resourceType: 'Patient' }, { 'if-none-exist': `not-a-parameter=${SENTINEL}` }),
      },
      {
        name: 'a wrong If-Match',
        status: 412,
        code: 'WARD_VERSION_CONFLICT',
        run: (f) => f.put(`Patient/${existing.id}`, { ...existing, active: true }, { 'if-match': 'W/"9"' }),
      },
      {
        name: 'an If-Match that is not an ETag',
        status: 412,
        code: 'WARD_VERSION_CONFLICT',
        run: (f) => f.put(`Patient/${existing.id}`, { ...existing, active: true }, { 'if-match': SENTINEL }),
      },
      {
        name: 'an oversize body',
        status: 413,
        code: 'WARD_BODY_TOO_LARGE',
        run: (f) => f.post('Patient', { resourceType: 'Patient', name: [{ family: SENTINEL.repeat(4000) }] }),
      },
      {
        name: 'an unsupported media type',
        status: 415,
        code: 'WARD_UNSUPPORTED_MEDIA_TYPE',
        run: (f) => f.call('POST', 'Patient', `<Patient>${SENTINEL}</Patient>`, { 'content-type': 'application/fhir+xml' }),
      },
      {
        name: 'a PATCH that is not JSON Patch',
        status: 415,
        code: 'WARD_UNSUPPORTED_MEDIA_TYPE',
        run: (f) => f.call('PATCH', `Patient/${existing.id}`, { resourceType: 'Patient' }),
      },
      {
        name: 'a JSON Patch that is not an array',
        status: 400,
        code: 'WARD_INVALID_PATCH',
        run: (f) => f.patch(`Patient/${existing.id}`, { op: 'add' }),
      },
      {
        name: 'a JSON Patch whose test fails',
        status: 400,
        code: 'WARD_INVALID_PATCH',
        run: (f) =>
          f.patch(`Patient/${existing.id}`, [
            { op: 'test', path: '/id', value: SENTINEL },
            { op: 'add', path: '/active', value: true },
          ]),
      },
      {
        name: 'a JSON Patch of more than 100 operations',
        status: 400,
        code: 'WARD_INVALID_PATCH',
        run: (f) =>
          f.patch(
            `Patient/${existing.id}`,
            Array.from({ length: 101 }, () => ({ op: 'replace', path: '/active', value: true })),
          ),
      },
      {
        name: 'a JSON Patch that copies a value into itself',
        status: 400,
        code: 'WARD_INVALID_PATCH',
        run: (f) => f.patch(`Patient/${existing.id}`, [{ op: 'copy', from: '/name', path: '/name/0/given' }]),
      },
      {
        name: 'a JSON Patch whose copies would grow the resource past the size limit',
        status: 413,
        code: 'WARD_BODY_TOO_LARGE',
        run: (f) =>
          f.patch(`Patient/${existing.id}`, [
            { op: 'add', path: '/extension', value: [{ url: 'urn:x', valueString: SENTINEL.repeat(1200) }] },
            ...Array.from({ length: 4 }, () => ({ op: 'copy', from: '/extension/0', path: '/extension/-' })),
          ]),
      },
      { name: 'a request for XML', status: 406, code: 'WARD_NOT_ACCEPTABLE', run: (f) => f.get(`Patient/${existing.id}?_format=xml`) },
      {
        name: 'a bad _summary',
        status: 400,
        code: 'WARD_INVALID_REQUEST',
        run: (f) => f.get(`Patient/${existing.id}?_summary=${SENTINEL}`),
      },
      {
        name: 'a conditional update without criteria',
        status: 400,
        code: 'WARD_INVALID_REQUEST',
        run: (f) => f.put('Patient', { resourceType: 'Patient' }),
      },
      {
        name: 'an invalid id in the URL of an update',
        status: 400,
        code: 'WARD_INVALID_REQUEST',
        run: (f) => f.put('Patient/has%20space', { resourceType: 'Patient', id: 'has space' }),
      },
    ];

  it.each(cases)('$name → $status with an OperationOutcome, echoing nothing and storing nothing', async ({ status, code, run }) => {
    const before = await counts();
    const res = await run(fhir);
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].details.coding[0].code).toBe(code);
    expect(res.raw.body).not.toContain(SENTINEL);
    expect(await counts()).toEqual(before);
    const current = await fhir.get(`Patient/${existing.id}`);
    expect(current.body.meta.versionId).toBe('1');
  });
});
