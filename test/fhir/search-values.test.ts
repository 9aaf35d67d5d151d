import { describe, expect, it } from 'vitest';
import { calendarBlocks, extractIndexValues, normalizeString, parseFhirDate, parseSearch, prefixesOf } from '../../src/fhir/index.js';

describe('search values (pure)', () => {
  it.each([
    ['2020', '2020-01-01T00:00:00.000Z', '2021-01-01T00:00:00.000Z'],
    ['2020-02', '2020-02-01T00:00:00.000Z', '2020-03-01T00:00:00.000Z'],
    ['2020-02-29', '2020-02-29T00:00:00.000Z', '2020-03-01T00:00:00.000Z'],
    ['2020-02-29T10:00:00+02:00', '2020-02-29T08:00:00.000Z', '2020-02-29T08:00:01.000Z'],
    ['2020-02-29T10:00', '2020-02-29T10:00:00.000Z', '2020-02-29T10:01:00.000Z'],
  ])('reads %s as the range it covers', (text, low, high) => {
    const r = parseFhirDate(text);
    expect([new Date(r?.low as number).toISOString(), new Date(r?.high as number).toISOString()]).toEqual([low, high]);
  });

  it.each(['2021-02-29', '2020-13', '20', 'yesterday'])('refuses %s as a date', (text) => {
    expect(parseFhirDate(text)).toBeUndefined();
  });

  it('covers a day range with the fewest whole years, months and days', () => {
    const low = Date.UTC(1979, 11, 30);
    const high = Date.UTC(1982, 2, 2);
    expect(calendarBlocks(low, high, new Date('2026-01-01'))).toEqual([
      '1979-12-30',
      '1979-12-31',
      '1980',
      '1981',
      '1982-01',
      '1982-02',
      '1982-03-01',
    ]);
  });

  it('normalises case, accents and whitespace, and bounds prefixes at 8', () => {
    expect(normalizeString('  MÜLLER   Ñandú ')).toBe('muller nandu');
    expect(prefixesOf('smithsonian')).toEqual(['s', 'sm', 'smi', 'smit', 'smith', 'smiths', 'smithso', 'smithson']);
  });

  it('marks identifiers, telecom, names and person dates identifying, and codes not', () => {
    const values = extractIndexValues({
      resourceType: 'Patient',
      name: [{ family: 'Doe' }],
      identifier: [{ system: 'urn:x', value: 'A1' }],
      telecom: [{ system: 'email', value: 'a@b.c' }],
      birthDate: '1970-01-01',
      gender: 'other',
    } as never);
    const by = (param: string) => values.find((v) => v.param === param) as Record<string, unknown>;
    expect(by('family')).toMatchObject({ kind: 'string', normalized: 'doe' });
    expect(by('identifier')).toMatchObject({ kind: 'token', identifying: true });
    expect(by('email')).toMatchObject({ kind: 'token', identifying: true });
    expect(by('birthdate')).toMatchObject({ kind: 'date', identifying: true });
    expect(by('gender')).toMatchObject({ kind: 'token', identifying: false, code: 'other' });
  });

  it('keeps identifying values out of the audit query and clinical ones in', () => {
    const now = new Date('2026-01-01');
    const q = parseSearch('Observation', new URLSearchParams('code=loinc|1&identifier=X&date=ge2020&_count=5'), { lenient: false, now });
    expect(q.auditQuery).toBe('code=loinc|1&identifier=[identifier]&date=ge2020&_count=5');
    const p = parseSearch('Patient', new URLSearchParams('name=Doe&birthdate=1970'), { lenient: false, now });
    expect(p.auditQuery).toBe('name=[name]&birthdate=[birthdate]');
  });

  it.each([
    ['Specimen', 'accession=ACC-778812', 'accession=[accession]'],
    ['Specimen', 'container-id=TUBE-19', 'container-id=[container-id]'],
    ['ServiceRequest', 'requisition=REQ-55|5521&status=active', 'requisition=[requisition]&status=active'],
    ['Practitioner', 'phone=5550100&active=true', 'phone=[phone]&active=true'],
    ['Observation', 'performer:identifier=urn:npi|REQ-55&code=1', 'performer:identifier=[performer]&code=1'],
    ['Patient', 'identifier:of-type=urn:v2|MR|ACC-778812', 'identifier:of-type=[identifier]'],
    ['Observation', 'code:text=TUBE-19&_profile:below=http://x/', 'code:text=[code]&_profile:below=http://x/'],
    ['Condition', 'code:text=5550100', 'code:text=[code]'],
  ])('ASTM E2147-18 §7.1.9: a %s query keeps an Identifier- or ContactPoint-typed value out of the audit (%s)', (type, query, audited) => {
    const parsed = parseSearch(type, new URLSearchParams(query), { lenient: false, now: new Date('2026-01-01') });
    expect(parsed.auditQuery).toBe(audited);
    expect(parsed.auditQuery).not.toMatch(/ACC-778812|TUBE-19|REQ-55|5550100/);
  });

  it.each([
    ['Observation', 'subject:Patient.name=Doe&code=1234-5', 'subject:Patient.name=[subject:Patient.name]&code=1234-5'],
    ['Observation', 'patient.identifier=urn:x|MRN-9', 'patient.identifier=[patient.identifier]'],
    ['Observation', 'subject.gender=male', 'subject.gender=[subject.gender]'],
    ['Observation', 'patient.organization.name=Acme', 'patient.organization.name=[patient.organization.name]'],
    ['Observation', 'patient.organization.type=prov', 'patient.organization.type=prov'],
    ['Patient', '_has:Observation:patient:code=1234-5', '_has:Observation:patient:code=1234-5'],
    [
      'Organization',
      '_has:Patient:organization:birthdate=1970',
      '_has:Patient:organization:birthdate=[_has:Patient:organization:birthdate]',
    ],
    [
      'Observation',
      '_include=Observation:patient&_revinclude:iterate=Provenance:target',
      '_include=Observation:patient&_revinclude:iterate=Provenance:target',
    ],
  ])('ASTM E2147-18 §7.1.9: a chained or _has %s query keeps an identifying inner value out of the audit (%s)', (type, query, audited) => {
    const parsed = parseSearch(type, new URLSearchParams(query), { lenient: false, now: new Date('2026-01-01') });
    expect(parsed.auditQuery).toBe(audited);
  });

  it('refuses an unknown parameter, or ignores and reports it when lenient', () => {
    const now = new Date();
    expect(() => parseSearch('Patient', new URLSearchParams('nope=1'), { lenient: false, now })).toThrow(/Unknown or unsupported/);
    const lenient = parseSearch('Patient', new URLSearchParams('nope=1&gender=male'), { lenient: true, now });
    expect(lenient.ignored).toEqual(['nope']);
    expect(lenient.applied).toEqual([['gender', 'male']]);
  });
});
