import { describe, expect, it } from 'vitest';
import { careDateParameters, formatEverythingCursor, parseEverything, searchParameter, WardError } from '../../src/fhir/index.js';

const parse = (query: string, lenient = false) => parseEverything(new URLSearchParams(query), { lenient });

describe('Patient/$everything parameters', () => {
  it('reads start, end, _since, _type (repeated and comma-separated) and _count, and echoes them for links and the audit entry', () => {
    const r = parse('start=2020&end=2021-03&_since=2024-05-01T10:00:00Z&_type=Observation,Encounter&_type=Observation&_count=20');
    expect(r.care).toEqual({ low: Date.UTC(2020, 0, 1), high: Date.UTC(2021, 3, 1) });
    expect(r.since?.toISOString()).toBe('2024-05-01T10:00:00.000Z');
    expect(r.types).toEqual(['Observation', 'Encounter']);
    expect(r.count).toBe(20);
    expect(r.cursor).toEqual({ phase: 'first' });
    expect(r.auditQuery).toBe('start=2020&end=2021-03&_since=2024-05-01T10:00:00Z&_type=Observation,Encounter&_type=Observation&_count=20');
  });

  it('leaves the care range open on the side not given', () => {
    expect(parse('start=2020').care?.low).toBe(Date.UTC(2020, 0, 1));
    expect(parse('end=2020').care?.high).toBe(Date.UTC(2021, 0, 1));
    expect(parse('_type=Patient').care).toBeUndefined();
  });

  it.each(['1', '1:Observation/abc-1', '2:Practitioner/x.y'])(
    'round-trips the cursor %s and keeps it out of the echoed parameters',
    (raw) => {
      const r = parse(`_page=${encodeURIComponent(raw)}&_count=5`);
      expect(formatEverythingCursor(r.cursor)).toBe(raw);
      expect(r.applied).toEqual([['_count', '5']]);
    },
  );

  it.each([
    ['code=1234', 'WARD_UNKNOWN_PARAMETER'],
    ['_since=2024-05-01', 'WARD_INVALID_REQUEST'],
    ['_since=2024-05-01T10:00:00', 'WARD_INVALID_REQUEST'],
    ['_type=Observation,Nonsense', 'WARD_INVALID_REQUEST'],
    ['_count=0', 'WARD_INVALID_REQUEST'],
    ['_count=-1', 'WARD_INVALID_REQUEST'],
    ['start=2021&end=2020', 'WARD_INVALID_REQUEST'],
    ['start=2020&start=2021', 'WARD_INVALID_REQUEST'],
    ['_page=3:Observation/x', 'WARD_INVALID_REQUEST'],
    ['_page=1:Nonsense/x', 'WARD_INVALID_REQUEST'],
    ['_page=1:Observation/a%20b', 'WARD_INVALID_REQUEST'],
  ])('refuses %s with %s', (query, code) => {
    let caught: unknown;
    try {
      parse(query);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(WardError);
    expect((caught as WardError).code).toBe(code);
  });

  it('under lenient handling ignores and names unknown parameters, never malformed values, and never echoes a name that could be data', () => {
    const r = parse('code=1234&_type=Encounter&Smith%20John=1', true);
    expect(r.ignored).toEqual(['code', '(unprintable name)']);
    expect(r.applied).toEqual([['_type', 'Encounter']]);
    expect(() => parse('_count=x', true)).toThrow(WardError);
  });
});

describe('care dates for start and end', () => {
  it('use the R4 clinical-date parameter where it exists and a date parameter of the type elsewhere; directory and demographic types have none', () => {
    const care = careDateParameters();
    expect(care.get('Observation')).toBe('date');
    expect(care.get('Encounter')).toBe('date');
    expect(care.get('Condition')).toBe('onset-date');
    expect(care.get('MedicationRequest')).toBe('authoredon');
    for (const [type, code] of care) expect(searchParameter(type, code)?.type, `${type}.${code}`).toBe('date');
    for (const type of ['Patient', 'Practitioner', 'Organization', 'Medication', 'Coverage', 'Provenance'])
      expect(care.has(type)).toBe(false);
  });
});
