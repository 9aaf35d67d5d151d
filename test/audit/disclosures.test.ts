import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type AuditEntry,
  accountingOf,
  accountingWindowStart,
  checkDisclosureInput,
  disclosureOf,
  isPatientDirectedPurpose,
  isTpoPurpose,
  purposeOfUseHierarchy,
} from '../../src/audit/index.js';
import { isWardError } from '../../src/fhir/index.js';

const NOW = new Date('2025-06-15T12:00:00.000Z');

function read(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    time: '2025-01-10T09:00:00.000Z',
    who: { id: 'Practitioner/researcher-1', kind: 'user', roles: ['physician'], clientId: 'study-app' },
    action: 'read',
    resourceType: 'Observation',
    resourceId: 'obs-1',
    patientId: 'p1',
    where: { requestId: 'r', listener: 'https', address: '10.0.0.1' },
    purposeOfUse: 'HRESCH',
    decision: { effect: 'permit', reasons: [] },
    outcome: { status: 200 },
    ...overrides,
  };
}

describe('HL7 v3 PurposeOfUse codes', () => {
  it('match the PurposeOfUse subtree of v3-ActReason in the R4 definitions package', () => {
    const folder = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
    const codeSystem = JSON.parse(readFileSync(join(folder, 'CodeSystem-v3-ActReason.json'), 'utf8'));
    const parents = new Map<string, string>();
    const walk = (concepts: any[], parent: string | undefined) => {
      for (const c of concepts) {
        if (parent) parents.set(c.code, parent);
        if (c.concept) walk(c.concept, c.code);
      }
    };
    walk(codeSystem.concept, undefined);
    const underPurposeOfUse = (code: string): boolean => {
      for (let p = parents.get(code); p; p = parents.get(p)) if (p === 'PurposeOfUse') return true;
      return false;
    };
    const published = new Map(
      [...parents].filter(([code]) => underPurposeOfUse(code)).map(([code, parent]) => [code, parent === 'PurposeOfUse' ? null : parent]),
    );
    expect(new Map([...purposeOfUseHierarchy()].sort())).toEqual(new Map([...published].sort()));
  });

  it.each([
    ['TREAT', true],
    ['ETREAT', true],
    ['BTG', true],
    ['HPAYMT', true],
    ['ELIGVER', true],
    ['HOPERAT', true],
    ['HSYSADMIN', true],
    ['METAMGT', true],
    ['HDIRECT', true],
    // Filed under HOPERAT by v3, but disclosures to outside bodies under 164.512: accounted for.
    ['HLEGAL', false],
    ['DONAT', false],
    ['HDECD', false],
    ['MILCDM', false],
    ['FRAUD', false],
    ['GOV', false],
    ['PUBHLTH', false],
    ['HRESCH', false],
    ['CLINTRCHPC', false],
    ['HMARKT', false],
    ['PATRQT', false],
    ['UNKNOWN', false],
  ])('%s is treatment, payment or operations: %s', (code, tpo) => {
    expect(isTpoPurpose(code)).toBe(tpo);
  });

  it.each([
    ['PATRQT', true],
    ['FAMRQT', true],
    ['PWATRNY', true],
    ['SUPNWK', true],
    ['PUBHLTH', false],
    ['TREAT', false],
  ])('%s is patient-directed: %s', (code, directed) => {
    expect(isPatientDirectedPurpose(code)).toBe(directed);
  });
});

describe('164.528 · 170.315(d)(11) · 170.210(d): which entries are disclosures', () => {
  const cases: [string, AuditEntry, boolean][] = [
    ['a research read', read(), true],
    [
      'a public-health search that returned the patient among others',
      read({
        action: 'search',
        resourceId: undefined,
        patientId: 'p0',
        detail: { patients: 'p0 p1' },
        returned: ['Observation/a'],
        purposeOfUse: 'PUBHLTH',
      }),
      true,
    ],
    ['a treatment read', read({ purposeOfUse: 'TREAT' }), false],
    ['a break-the-glass read (under treatment)', read({ purposeOfUse: 'BTG' }), false],
    ['a payment read', read({ purposeOfUse: 'COVAUTH' }), false],
    ['an operations read', read({ purposeOfUse: 'HQUALIMP' }), false],
    ['a read requested by the patient', read({ purposeOfUse: 'PATRQT' }), false],
    ['a read by a power of attorney', read({ purposeOfUse: 'PWATRNY' }), false],
    ['the patient reading their own record', read({ who: { id: 'Patient/p1', kind: 'patient', roles: ['patient'] } }), false],
    ['a refused read', read({ outcome: { status: 403, code: 'WARD_POLICY_DENIED' } }), false],
    ['a write', read({ action: 'update' }), false],
    ['a read of another patient', read({ patientId: 'p2' }), false],
    ['an audit report about the patient', read({ action: 'audit-report', resourceType: 'AuditEvent', resourceId: undefined }), false],
  ];
  it.each(cases)('%s → listed: %s', (_label, e, listed) => {
    expect(disclosureOf(1, e, 'p1') !== undefined).toBe(listed);
  });

  it('lists date, recipient (principal and client), a PHI-free description and the purpose', () => {
    expect(disclosureOf(12, read(), 'p1')).toEqual({
      date: '2025-01-10T09:00:00.000Z',
      recipient: { name: 'Practitioner/researcher-1', client: 'study-app' },
      description: 'read of Observation/obs-1',
      purpose: { code: 'HRESCH', display: 'healthcare research' },
      source: 'access',
      auditEvent: 'AuditEvent/12',
    });
  });

  it('keeps the window by disclosure date and sorts by date, then log order', () => {
    const recorded = read({
      action: 'disclose',
      resourceType: 'Patient',
      resourceId: 'p1',
      time: '2025-06-01T00:00:00.000Z',
      purposeOfUse: 'PUBHLTH',
      detail: { disclosedAt: '2024-12-31', recipientName: 'State registry', description: 'immunization record' },
    });
    const tooOld = read({ time: '2019-01-01T00:00:00.000Z' });
    const rows = [
      { seq: 5, entry: read({ time: '2025-02-01T00:00:00.000Z' }) },
      { seq: 9, entry: recorded },
      { seq: 3, entry: read() },
      { seq: 1, entry: tooOld },
    ];
    const listed = accountingOf(rows, 'p1', { from: accountingWindowStart(NOW), before: NOW });
    expect(listed.map((d) => d.auditEvent)).toEqual(['AuditEvent/9', 'AuditEvent/3', 'AuditEvent/5']);
    expect(listed[0]).toMatchObject({ date: '2024-12-31', recipient: { name: 'State registry' }, source: 'recorded' });
  });

  it('reaches back exactly six years', () => {
    expect(accountingWindowStart(NOW).toISOString()).toBe('2019-06-15T12:00:00.000Z');
  });
});

describe('a disclosure recorded by hand', () => {
  const good = {
    patient: 'p1',
    date: '2025-06-01',
    recipient: { name: 'County Health Department', address: '1 Main St, Springfield' },
    description: 'immunization record',
    purpose: 'PUBHLTH',
  };

  it('is accepted with the 164.528(b)(2) fields', () => {
    expect(checkDisclosureInput(good, NOW)).toEqual(good);
    expect(checkDisclosureInput({ ...good, patient: 'Patient/p1', recipient: { name: ' Registry ' } }, NOW)).toEqual({
      ...good,
      recipient: { name: 'Registry' },
    });
  });

  const refusals: [string, unknown, string][] = [
    ['a description over 200 characters', { ...good, description: 'x'.repeat(201) }, 'description'],
    ['an empty description', { ...good, description: '  ' }, 'description'],
    ['a multi-line description', { ...good, description: 'line one\nline two' }, 'description'],
    ['a treatment purpose', { ...good, purpose: 'TREAT' }, 'purpose'],
    ['an operations subcode', { ...good, purpose: 'HSYSADMIN' }, 'purpose'],
    ['a patient-requested purpose', { ...good, purpose: 'PATRQT' }, 'purpose'],
    ['an unknown purpose', { ...good, purpose: 'GOSSIP' }, 'purpose'],
    ['a future date', { ...good, date: '2025-06-16' }, 'date'],
    ['an impossible date', { ...good, date: '2025-02-30' }, 'date'],
    ['a time without a zone', { ...good, date: '2025-06-01T10:00:00' }, 'date'],
    ['no recipient name', { ...good, recipient: { address: 'x' } }, 'recipient.name'],
    ['an unknown member', { ...good, notes: 'free text' }, '$this'],
    ['a patient that is not an id', { ...good, patient: 'MRN 12345' }, 'patient'],
    ['a body that is not an object', ['x'], '$this'],
  ];
  it.each(refusals)('refuses %s, naming the member and not the value', (_label, body, expression) => {
    let caught: unknown;
    try {
      checkDisclosureInput(body, NOW);
    } catch (e) {
      caught = e;
    }
    expect(isWardError(caught)).toBe(true);
    const error = caught as { code: string; details: { expression?: string; diagnostics: string }[] };
    expect(error.code).toBe('WARD_INVALID_REQUEST');
    expect(error.details[0]?.expression).toBe(expression);
    expect(JSON.stringify(error.details)).not.toMatch(/free text|MRN 12345|GOSSIP|xxxx/);
  });
});
