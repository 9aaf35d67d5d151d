import { describe, expect, it } from 'vitest';
import { type AuditEntry, csvCell, csvRow, parseAuditSearch, parseWindow } from '../../src/audit/index.js';
import { isWardError } from '../../src/fhir/index.js';

const parse = (query: string) => parseAuditSearch(new URLSearchParams(query));
const iso = (d: Date | undefined) => d?.toISOString();

function refusal(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isWardError(e) ? e.code : 'not a WardError';
  }
  return undefined;
}

describe('AuditEvent search parameters', () => {
  it.each([
    ['date=2024-03', '2024-03-01T00:00:00.000Z', '2024-04-01T00:00:00.000Z'],
    ['date=eq2024-03-05', '2024-03-05T00:00:00.000Z', '2024-03-06T00:00:00.000Z'],
    ['date=ge2024-03-05', '2024-03-05T00:00:00.000Z', undefined],
    ['date=gt2024-03-05', '2024-03-06T00:00:00.000Z', undefined],
    ['date=le2024-03-05', undefined, '2024-03-06T00:00:00.000Z'],
    ['date=lt2024-03-05', undefined, '2024-03-05T00:00:00.000Z'],
    ['date=ge2024&date=lt2024-07', '2024-01-01T00:00:00.000Z', '2024-07-01T00:00:00.000Z'],
    ['date=ge2024-03-05T10:00:00Z', '2024-03-05T10:00:00.000Z', undefined],
    ['date=ge2024-03-05T10:00:00%2B02:00', '2024-03-05T08:00:00.000Z', undefined],
    ['date=le2024-03-05T10:00:00.250Z', undefined, '2024-03-05T10:00:00.251Z'],
  ])('%s covers [%s, %s)', (query, from, before) => {
    const { filter } = parse(query);
    expect(iso(filter.from)).toBe(from);
    expect(iso(filter.before)).toBe(before);
  });

  it('reads patient, agent, action (Ward codes and C/R/U/D/E), outcome and entity; comma is OR, repetition is AND', () => {
    const { filter, sort, count, parameters } = parse(
      'patient=Patient/p1,p2&agent=Practitioner/doc-1&action=read,vread&action=R&outcome=4&entity=Observation/o1&_sort=-agent,date&_count=20',
    );
    expect(filter.patients).toEqual([['p1', 'p2']]);
    expect(filter.principals).toEqual([['Practitioner/doc-1']]);
    expect(filter.actions?.[0]).toEqual(['read', 'vread']);
    expect(filter.actions?.[1]).toEqual(expect.arrayContaining(['read', 'vread', 'history', 'disclose', 'audit-export', 'audit-report']));
    expect(filter.actions?.[1]).not.toContain('search');
    expect(filter.outcomes).toEqual([['failure']]);
    expect(filter.entities).toEqual([[{ type: 'Observation', id: 'o1' }]]);
    expect(sort).toEqual([
      { key: 'agent', descending: true },
      { key: 'date', descending: false },
    ]);
    expect(count).toBe(20);
    expect(parameters).toEqual(['_count', '_sort', 'action', 'agent', 'entity', 'outcome', 'patient']);
  });

  it('caps _count and reads a page token', () => {
    expect(parse('_count=100000').count).toBe(1000);
    expect(parse('_page=41.200').page).toEqual({ snapshot: 41, offset: 200 });
  });

  it.each([
    ['an unknown parameter', 'name=Smith', 'WARD_UNKNOWN_PARAMETER'],
    ['a modifier', 'patient:missing=true', 'WARD_UNKNOWN_PARAMETER'],
    ['_summary', '_summary=true', 'WARD_UNKNOWN_PARAMETER'],
    ['an unknown sort key', '_sort=address', 'WARD_INVALID_REQUEST'],
    ['an unknown action', 'action=peek', 'WARD_INVALID_REQUEST'],
    ['an unknown outcome', 'outcome=maybe', 'WARD_INVALID_REQUEST'],
    ['an entity of an unknown type', 'entity=Nope/1', 'WARD_INVALID_REQUEST'],
    ['a patient that is not an id', 'patient=MRN%20123', 'WARD_INVALID_REQUEST'],
    ['an unsupported date prefix', 'date=ne2024', 'WARD_INVALID_REQUEST'],
    ['an impossible date', 'date=2024-02-30', 'WARD_INVALID_REQUEST'],
    ['a date list', 'date=2024,2025', 'WARD_INVALID_REQUEST'],
    ['_count=0', '_count=0', 'WARD_INVALID_REQUEST'],
    ['a forged page token', '_page=abc', 'WARD_INVALID_REQUEST'],
    ['an empty value', 'patient=', 'WARD_INVALID_REQUEST'],
  ])('refuses %s', (_label, query, code) => {
    expect(refusal(() => parse(query))).toBe(code);
  });

  it('reads from and to as the start and the end of their precision', () => {
    const w = parseWindow('2024-01', '2024-03-31');
    expect(iso(w.from)).toBe('2024-01-01T00:00:00.000Z');
    expect(iso(w.before)).toBe('2024-04-01T00:00:00.000Z');
  });
});

describe('the CSV export', () => {
  it('quotes by RFC 4180 and defuses cells a spreadsheet would run as formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
  });

  it('writes one row per entry with seq, time, principal, roles, action, outcome, patient, resource and address', () => {
    const entry: AuditEntry = {
      time: '2024-05-01T10:00:00.123Z',
      who: { id: 'Practitioner/doc-1', kind: 'user', roles: ['physician', 'nurse'], clientId: '=evil' },
      action: 'read',
      resourceType: 'Observation',
      resourceId: 'o1',
      patientId: 'p1',
      where: { requestId: 'r', address: '10.0.0.7' },
      purposeOfUse: 'TREAT',
      decision: { effect: 'permit', reasons: [] },
      outcome: { status: 200 },
    };
    expect(csvRow(7, entry)).toBe(
      "7,2024-05-01T10:00:00.123Z,Practitioner/doc-1,physician nurse,'=evil,read,success,200,,p1,Observation,o1,10.0.0.7,TREAT",
    );
  });
});
