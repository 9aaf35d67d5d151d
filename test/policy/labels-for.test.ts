import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FhirResource } from '../../src/fhir/index.js';
import { LABEL_RULES, labelsFor, SENSITIVITY_CODES, withLabels } from '../../src/policy/index.js';
import { CONF, confidentiality, sensitivity, V3 } from './policy-fixtures.js';

const condition = (system: string, code: string, meta?: FhirResource['meta']): FhirResource => ({
  resourceType: 'Condition',
  id: 'c1',
  ...(meta ? { meta } : {}),
  subject: { reference: 'Patient/P' },
  code: { coding: [{ system, code }] },
});
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const SNOMED = 'http://snomed.info/sct';

describe('labelsFor: sensitivity from codes (42 CFR Part 2 §2.12–2.13 (labels))', () => {
  it.each([
    [
      '42 CFR Part 2 §2.12–2.13 (labels): ICD-10-CM F10.20 alcohol dependence is ETH and SUD, restricted',
      ICD10CM,
      'F10.20',
      ['ETH', 'SUD'],
    ],
    [
      '42 CFR Part 2 §2.12–2.13 (labels): ICD-10-CM F19.10 other psychoactive substance abuse is ETH and SUD',
      ICD10CM,
      'F19.10',
      ['ETH', 'SUD'],
    ],
    [
      '42 CFR Part 2 §2.12–2.13 (labels): WHO ICD-10 F11.2 opioid dependence is ETH and SUD',
      'http://hl7.org/fhir/sid/icd-10',
      'F11.2',
      ['ETH', 'SUD'],
    ],
    ['42 CFR Part 2 §2.12–2.13 (labels): SNOMED 15167005 alcohol abuse is ETH and SUD', SNOMED, '15167005', ['ETH', 'SUD']],
    ['ICD-10-CM F32.9 depression is PSY', ICD10CM, 'F32.9', ['PSY']],
    ['ICD-10-CM B20 HIV disease is HIV', ICD10CM, 'B20', ['HIV']],
    ['ICD-10-CM Z21 asymptomatic HIV status is HIV', ICD10CM, 'Z21', ['HIV']],
    ['SNOMED 86406008 HIV infection is HIV', SNOMED, '86406008', ['HIV']],
    ['ICD-10-CM T74.11XA adult physical abuse is SDV', ICD10CM, 'T74.11XA', ['SDV']],
    ['ICD-10-CM Z15.01 genetic susceptibility is GDIS', ICD10CM, 'Z15.01', ['GDIS']],
    ['ICD-10-CM A54.00 gonococcal infection is STD', ICD10CM, 'A54.00', ['STD']],
  ])('%s', (_name, system, code, labels) => {
    const assigned = labelsFor(condition(system, code));
    expect(assigned.sensitivity).toEqual([...labels].sort());
    expect(assigned.confidentiality).toBe('R');
    expect(assigned.rules.length).toBeGreaterThan(0);
  });

  it.each([
    ['F09 (due to a physiological condition, below F10)', ICD10CM, 'F09'],
    ['F20 under a SNOMED system (a code means nothing outside its system)', SNOMED, 'F20'],
    ['E11.9 diabetes', ICD10CM, 'E11.9'],
    ['B21 (not an HIV category in ICD-10-CM)', ICD10CM, 'B21'],
  ])('leaves %s unlabelled, confidentiality N', (_name, system, code) => {
    expect(labelsFor(condition(system, code))).toMatchObject({ confidentiality: 'N', sensitivity: [] });
  });

  it('labels an HIV test by LOINC wherever the code sits (Observation.code)', () => {
    const obs: FhirResource = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '7917-8' }] },
      subject: { reference: 'Patient/P' },
    };
    expect(labelsFor(obs).sensitivity).toEqual(['HIV']);
  });

  it('finds codes in contained resources and nested elements (Claim diagnosis)', () => {
    const claim: FhirResource = {
      resourceType: 'Claim',
      diagnosis: [{ sequence: 1, diagnosisCodeableConcept: { coding: [{ system: ICD10CM, code: 'F12.20' }] } }],
    };
    expect(labelsFor(claim).sensitivity).toEqual(['ETH', 'SUD']);
  });

  it('does not read codes from meta (a label is not a diagnosis)', () => {
    const r = condition('http://loinc.org', '8867-4', { tag: [{ system: ICD10CM, code: 'F10.20' }] });
    expect(labelsFor(r).sensitivity).toEqual([]);
  });
});

describe('labelsFor: explicit meta.security', () => {
  it('keeps explicit sensitivity and confidentiality set by a user', () => {
    const r = condition(ICD10CM, 'E11.9', { security: [sensitivity('PSY'), confidentiality('R')] });
    expect(labelsFor(r)).toMatchObject({ confidentiality: 'R', sensitivity: ['PSY'] });
  });

  it('never lowers an explicit V to the derived R', () => {
    const r = condition(ICD10CM, 'B20', { security: [confidentiality('V')] });
    expect(labelsFor(r)).toMatchObject({ confidentiality: 'V', sensitivity: ['HIV'] });
  });

  it('raises an explicit L to R when a rule finds sensitive codes', () => {
    const r = condition(ICD10CM, 'B20', { security: [confidentiality('L')] });
    expect(labelsFor(r).confidentiality).toBe('R');
  });

  it('keeps an explicit L when nothing sensitive is found', () => {
    expect(labelsFor(condition(ICD10CM, 'E11.9', { security: [confidentiality('L')] })).confidentiality).toBe('L');
  });

  it('makes a psychotherapy note (explicit PSYTHPN) very restricted', () => {
    expect(labelsFor(condition(ICD10CM, 'E11.9', { security: [sensitivity('PSYTHPN')] })).confidentiality).toBe('V');
  });

  it('withLabels writes the merged labels into meta.security and keeps other codings', () => {
    const other = { system: 'http://example.org/tags', code: 'x' };
    const r = condition(ICD10CM, 'F10.20', { versionId: '3', security: [other, confidentiality('N')] });
    const labelled = withLabels(r);
    expect(labelled.meta?.security).toEqual([confidentiality('R'), sensitivity('ETH'), sensitivity('SUD'), other]);
    expect(labelled.meta?.versionId).toBe('3');
    expect(r.meta?.security).toEqual([other, confidentiality('N')]);
  });
});

describe('label codes', () => {
  const folder = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
  const codesOf = (file: string): Set<string> => {
    const out = new Set<string>();
    const walk = (concepts: { code: string; concept?: unknown[] }[] | undefined): void => {
      for (const c of concepts ?? []) {
        out.add(c.code);
        walk(c.concept as { code: string }[] | undefined);
      }
    };
    walk(JSON.parse(readFileSync(join(folder, file), 'utf8')).concept);
    return out;
  };

  it('every sensitivity code Ward uses is a v3-ActCode code of the R4 package', () => {
    const actCodes = codesOf('CodeSystem-v3-ActCode.json');
    for (const code of SENSITIVITY_CODES) expect(actCodes.has(code), code).toBe(true);
    for (const rule of LABEL_RULES) for (const l of rule.labels) expect(actCodes.has(l)).toBe(true);
  });

  it('N, R and V are v3-Confidentiality codes, REDACTED and SUBSETTED v3-ObservationValue codes', () => {
    const conf = codesOf('CodeSystem-v3-Confidentiality.json');
    for (const c of ['N', 'R', 'V']) expect(conf.has(c)).toBe(true);
    const obs = codesOf('CodeSystem-v3-ObservationValue.json');
    for (const c of ['REDACTED', 'SUBSETTED']) expect(obs.has(c)).toBe(true);
    expect(CONF).toBe('http://terminology.hl7.org/CodeSystem/v3-Confidentiality');
    expect(V3).toBe('http://terminology.hl7.org/CodeSystem/v3-ActCode');
  });
});
