import { describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS, type AuditEntry, auditEventOf } from '../../src/audit/index.js';
import { validateResource } from '../../src/fhir/index.js';

/** A complete entry as the vault writes it; cases override what they test. */
function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    time: '2024-05-01T10:00:00.123Z',
    who: {
      id: 'Practitioner/doc-1',
      kind: 'user',
      roles: ['physician'],
      clientId: 'ward-cli',
      scopes: 'user/*.cruds',
      tokenId: '6f1c2d9e-7c53-4a57-9b1e-0f3f2b9d8e11',
    },
    action: 'read',
    resourceType: 'Observation',
    resourceId: 'obs-1',
    versionId: 2,
    patientId: 'pat-1',
    where: { requestId: 'req-1', listener: 'https', address: '10.0.0.7', userAgent: 'curl/8', method: 'GET', route: '/fhir/:type/:id' },
    purposeOfUse: 'TREAT',
    decision: { effect: 'permit', reasons: ['ward-roles-2: role physician allows Observation.r', 'scope user/*.cruds'] },
    outcome: { status: 200 },
    ...overrides,
  };
}

const errorsOf = (resource: unknown) =>
  validateResource(resource, 'AuditEvent').filter((i) => i.severity === 'error' || i.severity === 'fatal');

const cases: [string, AuditEntry][] = [
  ['a read', entry()],
  [
    'a search returning resources of two patients',
    entry({
      action: 'search',
      resourceId: undefined,
      versionId: undefined,
      returned: ['Observation/o1', 'Observation/o2'],
      detail: { patients: 'pat-1 pat-2' },
      purposeOfUse: 'PUBHLTH',
    }),
  ],
  ['a history page', entry({ action: 'history', returned: ['Observation/obs-1/_history/2', 'Observation/obs-1/_history/1'] })],
  [
    'an anonymous refusal with a keyed-hash id',
    entry({
      who: { id: 'anonymous', kind: 'anonymous', roles: [] },
      action: 'request',
      resourceType: 'Patient',
      resourceId: 'hmac:0123456789abcdef0123456789abcdef',
      versionId: undefined,
      patientId: undefined,
      purposeOfUse: 'none',
      decision: { effect: 'none', reasons: [] },
      outcome: { status: 401, code: 'WARD_UNAUTHENTICATED' },
    }),
  ],
  ['a server error', entry({ outcome: { status: 503, code: 'WARD_AUDIT_UNAVAILABLE' }, decision: { effect: 'permit', reasons: [] } })],
  [
    'an operator minting a token',
    entry({
      who: { id: 'operator:alice', kind: 'operator', roles: [] },
      action: 'token-create',
      resourceType: undefined,
      resourceId: undefined,
      versionId: undefined,
      patientId: undefined,
      where: { requestId: 'req-2', listener: 'cli' },
      purposeOfUse: 'HOPERAT',
      outcome: { status: 201 },
      detail: { sub: 'Practitioner/doc-1', roles: 'physician', jti: 'j-1' },
    }),
  ],
  [
    'a disclosure recorded by a privacy officer',
    entry({
      who: { id: 'Practitioner/po-1', kind: 'user', roles: ['privacy-officer'], clientId: 'ward-cli' },
      action: 'disclose',
      resourceType: 'Patient',
      resourceId: 'pat-1',
      versionId: undefined,
      purposeOfUse: 'PUBHLTH',
      outcome: { status: 201 },
      detail: {
        disclosedAt: '2024-04-30',
        recipientName: 'County Health Department',
        recipientAddress: '1 Main St, Springfield',
        description: 'immunization record',
      },
    }),
  ],
  ['a service principal', entry({ who: { id: 'system', kind: 'system', roles: ['system'], agent: { name: 'importer', version: '1.2' } } })],
];

describe('the AuditEvent view of an audit entry (170.315(d)(3))', () => {
  it.each(cases)('%s validates against the R4 AuditEvent definition', (_label, e) => {
    const event = auditEventOf(42, e);
    expect(errorsOf(event)).toEqual([]);
    expect(event.id).toBe('42');
    expect(event.recorded).toBe(e.time);
  });

  it.each(AUDIT_ACTIONS.map((a) => [a]))('every action (%s) has a valid view', (action) => {
    expect(errorsOf(auditEventOf(1, entry({ action })))).toEqual([]);
  });

  it('maps a read to the REST type, the read interaction and action R, with the agent, client, address and entities', () => {
    const event = auditEventOf(7, entry()) as any;
    expect(event.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(event.subtype).toEqual([{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read', display: 'read' }]);
    expect(event.action).toBe('R');
    expect(event.outcome).toBe('0');
    expect(event.purposeOfEvent[0].coding[0]).toMatchObject({
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
      code: 'TREAT',
    });
    const [user, client] = event.agent;
    expect(user).toMatchObject({
      who: { reference: 'Practitioner/doc-1' },
      requestor: true,
      network: { address: '10.0.0.7', type: '2' },
      role: [{ coding: [{ code: 'physician' }] }],
    });
    expect(client).toMatchObject({ who: { identifier: { value: 'ward-cli' } }, requestor: false });
    const references = event.entity.map((x: any) => x.what?.reference).filter(Boolean);
    expect(references).toEqual(['Observation/obs-1/_history/2', 'Patient/pat-1']);
    const context = event.entity.at(-1);
    expect(context.detail).toContainEqual({ type: 'requestId', valueString: 'req-1' });
    expect(context.detail).toContainEqual({ type: 'route', valueString: '/fhir/:type/:id' });
  });

  it('maps outcomes to 0 (success), 4 (refused or invalid) and 8 (server failure)', () => {
    expect(auditEventOf(1, entry({ outcome: { status: 201 } })).outcome).toBe('0');
    expect(auditEventOf(1, entry({ outcome: { status: 403, code: 'WARD_POLICY_DENIED' } })).outcome).toBe('4');
    expect(auditEventOf(1, entry({ outcome: { status: 503, code: 'WARD_AUDIT_UNAVAILABLE' } })).outcome).toBe('8');
  });

  it('lists every patient of a search and every returned resource as an entity', () => {
    const event = auditEventOf(
      3,
      entry({
        action: 'search',
        resourceId: undefined,
        returned: ['Observation/o1', 'Observation/o2'],
        detail: { patients: 'pat-1 pat-2' },
      }),
    ) as any;
    expect(event.subtype[0].code).toBe('search-type');
    expect(event.action).toBe('E');
    const references = event.entity.map((x: any) => x.what?.reference).filter(Boolean);
    expect(references).toEqual(['Patient/pat-1', 'Patient/pat-2', 'Observation/o1', 'Observation/o2']);
  });

  it('never turns a keyed-hash id into a reference', () => {
    const event = auditEventOf(5, cases[3]?.[1] as AuditEntry) as any;
    expect(event.entity[0].what).toEqual({
      identifier: { system: 'https://ward.health/fhir/NamingSystem/audit-id-hash', value: 'hmac:0123456789abcdef0123456789abcdef' },
    });
    expect(event.agent[0].who).toEqual({ identifier: { system: 'https://ward.health/fhir/NamingSystem/principal', value: 'anonymous' } });
    expect(event.purposeOfEvent).toBeUndefined();
  });

  it('shows a recorded disclosure as a DICOM Export with its date, recipient, description and purpose', () => {
    const event = auditEventOf(9, cases[6]?.[1] as AuditEntry) as any;
    expect(event.type).toMatchObject({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110106' });
    expect(event.subtype[0]).toMatchObject({ code: 'disclose' });
    expect(event.period).toEqual({ start: '2024-04-30', end: '2024-04-30' });
    expect(event.agent.find((a: any) => a.name === 'County Health Department')).toMatchObject({ requestor: false });
    expect(event.entity[0]).toMatchObject({
      what: { reference: 'Patient/pat-1' },
      description: 'immunization record',
      lifecycle: { code: '11' },
    });
    expect(event.purposeOfEvent[0].coding[0].code).toBe('PUBHLTH');
  });
});
