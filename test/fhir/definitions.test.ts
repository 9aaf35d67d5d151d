import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  findElement,
  getStructureModel,
  getTypeModel,
  isPrimitiveType,
  isResourceType,
  RESOURCE_TYPES,
} from '../../src/fhir/definitions.js';
import { expandValueSet } from '../../src/fhir/value-set.js';

const packageDir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

describe('RESOURCE_TYPES', () => {
  it('lists the 146 concrete R4 resource types, sorted', () => {
    expect(RESOURCE_TYPES).toHaveLength(146);
    expect([...RESOURCE_TYPES].sort()).toEqual(RESOURCE_TYPES);
    expect(RESOURCE_TYPES).toEqual(expect.arrayContaining(['Patient', 'Observation', 'Parameters', 'Bundle', 'Binary']));
    expect(RESOURCE_TYPES).not.toContain('Resource');
    expect(RESOURCE_TYPES).not.toContain('DomainResource');
  });

  it('matches exactly the StructureDefinitions with kind resource, derivation specialization, not abstract', () => {
    const fromDefinitions: string[] = [];
    for (const file of readdirSync(packageDir).filter((f) => f.startsWith('StructureDefinition-'))) {
      const sd = JSON.parse(readFileSync(join(packageDir, file), 'utf8')) as Record<string, unknown>;
      if (sd.kind === 'resource' && sd.derivation === 'specialization' && sd.abstract === false) {
        fromDefinitions.push(sd.type as string);
      }
    }
    expect(fromDefinitions.sort()).toEqual(RESOURCE_TYPES);
  });

  it('cannot be mutated by a caller', () => {
    expect(Object.isFrozen(RESOURCE_TYPES)).toBe(true);
  });
});

describe('isResourceType', () => {
  it.each([
    ['Patient', true],
    ['Parameters', true],
    ['Resource', false],
    ['DomainResource', false],
    ['patient', false],
    ['HumanName', false],
    ['__proto__', false],
    ['', false],
  ])('%s → %s', (name, expected) => {
    expect(isResourceType(name)).toBe(expected);
  });
});

describe('element model', () => {
  it('describes a coded element with its flags and required binding', () => {
    expect(findElement('Patient.gender')).toMatchObject({
      min: 0,
      max: 1,
      isArray: false,
      isSummary: true,
      isModifier: false,
      types: [{ code: 'code' }],
      requiredValueSet: 'http://hl7.org/fhir/ValueSet/administrative-gender',
    });
  });

  it('marks modifiers and mandatory elements', () => {
    expect(findElement('Observation.status')).toMatchObject({ min: 1, max: 1, isModifier: true, isSummary: true });
    expect(findElement('Patient.active')).toMatchObject({ isModifier: true });
  });

  it('marks repeating elements as JSON arrays', () => {
    expect(findElement('Patient.name')).toMatchObject({ isArray: true, max: Number.POSITIVE_INFINITY, types: [{ code: 'HumanName' }] });
  });

  it('expands a choice element into its JSON property names', () => {
    const value = findElement('Observation.value[x]');
    expect(value).toMatchObject({ name: 'value', isChoice: true });
    expect(value?.jsonNames).toEqual(expect.arrayContaining(['valueQuantity', 'valueString', 'valueDateTime', 'valueCodeableConcept']));
    const node = getStructureModel('Observation')?.root;
    expect(node?.byJsonName.get('valuePeriod')?.type.code).toBe('Period');
  });

  it('keeps the target profiles of references', () => {
    const subject = findElement('Observation.subject');
    expect(subject?.types[0]?.targetProfiles).toEqual(
      expect.arrayContaining(['http://hl7.org/fhir/StructureDefinition/Patient', 'http://hl7.org/fhir/StructureDefinition/Group']),
    );
  });

  it('follows contentReference to the referenced backbone element', () => {
    const nested = findElement('Questionnaire.item.item');
    expect(nested).toMatchObject({ contentReference: 'Questionnaire.item', childNode: 'Questionnaire.item', isArray: true });
    expect(getStructureModel('Questionnaire')?.nodes.get('Questionnaire.item')?.byJsonName.has('linkId')).toBe(true);
  });

  it('types Resource.id as id and Extension.url as uri', () => {
    expect(findElement('Patient.id')?.types[0]?.code).toBe('id');
    expect(findElement('Extension.url')?.types[0]?.code).toBe('uri');
    expect(findElement('HumanName.id')?.types[0]?.code).toBe('string');
  });

  it('loads primitive types with the regex from the specification', () => {
    expect(isPrimitiveType('date')).toBe(true);
    expect(isPrimitiveType('HumanName')).toBe(false);
    const date = getTypeModel('date');
    expect(date?.kind === 'primitive-type' && date.pattern?.test('2024-02-29')).toBe(true);
    expect(date?.kind === 'primitive-type' && date.pattern?.test('2024-2-29')).toBe(false);
  });

  it('never loads profiles or extension definitions as base types', () => {
    expect(getTypeModel('SimpleQuantity')).toBeUndefined();
    expect(getTypeModel('vitalsigns')).toBeUndefined();
    expect(getTypeModel('../package')).toBeUndefined();
    expect(getTypeModel('NotAType')).toBeUndefined();
  });
});

describe('required ValueSet expansion', () => {
  it('expands a ValueSet that includes a whole CodeSystem from the package', () => {
    const gender = expandValueSet('http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1');
    expect(gender && [...gender.codes].sort()).toEqual(['female', 'male', 'other', 'unknown']);
    expect(gender?.codings.has('http://hl7.org/fhir/administrative-gender|male')).toBe(true);
  });

  it('finds a CodeSystem whose file is named after the ValueSet rather than the system URL', () => {
    expect(expandValueSet('http://hl7.org/fhir/ValueSet/verificationresult-status')?.codes.size).toBeGreaterThan(0);
  });

  it('gives up on ValueSets that need an external terminology', () => {
    expect(expandValueSet('http://hl7.org/fhir/ValueSet/mimetypes')).toBeUndefined();
    expect(expandValueSet('http://hl7.org/fhir/ValueSet/ucum-units')).toBeUndefined();
    expect(expandValueSet('http://example.org/ValueSet/nowhere')).toBeUndefined();
  });
});
