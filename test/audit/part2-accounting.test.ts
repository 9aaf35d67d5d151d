import { describe, expect, it } from 'vitest';
import { type AuditEntry, part2AccountingOf, part2AccountingWindowStart } from '../../src/audit/index.js';

const entry = (time: string, detail: Record<string, string>, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  time,
  who: { id: 'Practitioner/x', kind: 'user', roles: ['physician'] },
  action: 'search',
  resourceType: 'Condition',
  where: {},
  purposeOfUse: 'TREAT',
  decision: { effect: 'permit', reasons: [] },
  outcome: { status: 200 },
  ...extra,
  detail,
});
const window = { from: new Date('2022-06-15T12:00:00Z'), before: new Date('2025-06-15T12:00:00Z') };

describe('42 CFR Part 2 §2.25 · §2.24 accounting (pure)', () => {
  it('42 CFR Part 2 §2.25 · §2.24: a search over two patients lists for each only its own Part 2 records and consents', () => {
    const shared = entry('2024-01-01T00:00:00.000Z', {
      'part2.disclosed': 'Condition/a@P Condition/b@Q',
      'part2.consents': 'Consent/cp@P Consent/cq@Q',
    });
    const forP = part2AccountingOf([{ seq: 7, entry: shared }], 'P', window).disclosures;
    expect(forP).toEqual([
      expect.objectContaining({ consents: ['Consent/cp'], description: 'search of Condition: Part 2 record(s) Condition/a' }),
    ]);
    expect(JSON.stringify(forP)).not.toContain('Condition/b');
    expect(part2AccountingOf([{ seq: 7, entry: shared }], 'R', window).disclosures).toEqual([]);
  });

  it('42 CFR Part 2 §2.25 · §2.24: leaves out refused requests, entries without a consent, and anything outside the window', () => {
    const ok = { 'part2.disclosed': 'Condition/a@P', 'part2.consents': 'Consent/c@P' };
    const rows = [
      { seq: 1, entry: entry('2022-06-15T11:59:59.999Z', ok) },
      { seq: 2, entry: entry('2023-01-01T00:00:00.000Z', ok, { outcome: { status: 404 } }) },
      { seq: 3, entry: entry('2023-01-01T00:00:00.000Z', { 'part2.emergency.disclosed': 'Condition/a@P' }) },
      { seq: 4, entry: entry('2023-01-01T00:00:00.000Z', ok, { action: 'create' }) },
      { seq: 5, entry: entry('2023-01-02T00:00:00.000Z', ok) },
    ];
    expect(part2AccountingOf(rows, 'P', window).disclosures.map((d) => d.auditEvent)).toEqual(['AuditEvent/5']);
  });

  it('42 CFR Part 2 §2.25 · §2.24: recipients named through an organization are listed per intermediary', () => {
    const via = (who: string, seq: number) => ({
      seq,
      entry: entry(
        `2024-0${seq}-01T00:00:00.000Z`,
        { 'part2.disclosed': 'Condition/a@P', 'part2.consents': 'Consent/hie@P', 'part2.intermediaries': 'Consent/hie>Organization/hie' },
        { who: { id: who, kind: 'user', roles: ['physician'] } },
      ),
    });
    const { intermediaries } = part2AccountingOf(
      [via('Practitioner/b', 1), via('Practitioner/a', 2), via('Practitioner/b', 3)],
      'P',
      window,
    );
    expect(intermediaries).toEqual([
      { intermediary: 'Organization/hie', consents: ['Consent/hie'], recipients: ['Practitioner/a', 'Practitioner/b'] },
    ]);
  });

  it('covers three years back from the request', () => {
    expect(part2AccountingWindowStart(new Date('2025-06-15T12:00:00Z')).toISOString()).toBe('2022-06-15T12:00:00.000Z');
  });
});
