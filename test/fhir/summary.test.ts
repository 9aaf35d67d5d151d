import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyElements, applySummary } from '../../src/fhir/summary.js';
import { validateResource } from '../../src/fhir/validation.js';

const packageDir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

type Resource = { resourceType: string } & Record<string, unknown>;

function example(file: string): Resource {
  return JSON.parse(readFileSync(join(packageDir, file), 'utf8')) as Resource;
}

function patient(): Resource {
  return {
    resourceType: 'Patient',
    id: 'p1',
    meta: { versionId: '2', tag: [{ system: 'http://example.org/tags', code: 'keep' }] },
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jane Doe</div>' },
    active: true,
    name: [{ family: 'Doe', given: ['Jane'] }],
    gender: 'female',
    birthDate: '1970-01-01',
    _birthDate: { extension: [{ url: 'http://example.org/precision', valueCode: 'day' }] },
    maritalStatus: { text: 'married' },
    photo: [{ contentType: 'image/png', data: 'AAAA' }],
    contact: [{ name: { family: 'Roe' } }],
    communication: [{ language: { text: 'English' } }],
  };
}

function tags(resource: Resource): unknown[] {
  return ((resource.meta as { tag?: unknown[] } | undefined)?.tag ?? []) as unknown[];
}

describe('applySummary', () => {
  it('_summary=true keeps only summary elements and tags the result SUBSETTED', () => {
    const summary = applySummary(patient(), 'true');
    expect(Object.keys(summary).sort()).toEqual(['_birthDate', 'active', 'birthDate', 'gender', 'id', 'meta', 'name', 'resourceType']);
    expect(summary.name).toEqual([{ family: 'Doe', given: ['Jane'] }]);
    expect(tags(summary)).toEqual([{ system: 'http://example.org/tags', code: 'keep' }, expect.objectContaining(SUBSETTED)]);
  });

  it('_summary=true filters backbone elements by their own summary flags', () => {
    const observation: Resource = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'blood pressure' },
      component: [{ code: { text: 'systolic' }, valueQuantity: { value: 120 }, referenceRange: [{ text: 'normal' }] }],
    };
    const summary = applySummary(observation, 'true');
    expect(summary.component).toEqual([{ code: { text: 'systolic' }, valueQuantity: { value: 120 } }]);
    expect(tags(summary)).toContainEqual(expect.objectContaining(SUBSETTED));
  });

  it('_summary=true keeps mandatory elements even where they are not flagged summary', () => {
    const bundle: Resource = { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient/1' } }] };
    expect(applySummary(bundle, 'true')).toMatchObject({ type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient/1' } }] });
  });

  it('_summary=text keeps text, id, meta and mandatory top-level elements', () => {
    const observation = applySummary(example('Observation-example.json'), 'text');
    expect(Object.keys(observation).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'text']);
    expect(tags(observation)).toContainEqual(expect.objectContaining(SUBSETTED));
  });

  it('_summary=data removes only the narrative', () => {
    const input = patient();
    const data = applySummary(input, 'data');
    const { text: _text, meta: _meta, ...rest } = input;
    expect(data).toMatchObject(rest);
    expect(data).not.toHaveProperty('text');
    expect(tags(data)).toContainEqual(expect.objectContaining(SUBSETTED));
  });

  it('does not tag a resource from which nothing was removed', () => {
    const bare: Resource = { resourceType: 'Patient', id: 'p1', gender: 'male' };
    expect(applySummary(bare, 'data')).toEqual(bare);
    expect(applySummary(bare, 'true')).toEqual(bare);
    expect(applySummary(patient(), 'false')).toEqual(patient());
  });

  it('adds meta when the resource had none, and never duplicates the tag', () => {
    const noMeta: Resource = { resourceType: 'Patient', text: { status: 'empty', div: '<div xmlns="http://www.w3.org/1999/xhtml"/>' } };
    expect(applySummary(noMeta, 'data')).toEqual({ resourceType: 'Patient', meta: { tag: [{ ...SUBSETTED, display: 'subsetted' }] } });
    const twice = applySummary(applySummary(patient(), 'true'), 'data');
    expect(tags(twice).filter((t) => (t as { code?: string }).code === 'SUBSETTED')).toHaveLength(1);
  });

  it.each(['true', 'text', 'data', 'false'] as const)('_summary=%s never mutates its input and shares no objects with it', (mode) => {
    const input = patient();
    const before = structuredClone(input);
    const output = applySummary(input, mode);
    expect(input).toEqual(before);
    (output.meta as { versionId: string }).versionId = 'changed';
    if (Array.isArray(output.name)) (output.name[0] as { family: string }).family = 'changed';
    expect(input).toEqual(before);
  });

  it.each(['true', 'text', 'data'] as const)('_summary=%s of an official example is still a valid resource', (mode) => {
    for (const file of ['Patient-example.json', 'Observation-example.json', 'Questionnaire-f201.json', 'Bundle-bundle-transaction.json']) {
      expect(validateResource(applySummary(example(file), mode))).toEqual([]);
    }
  });

  it('rejects a resource type it does not know as a programming error', () => {
    expect(() => applySummary({ resourceType: 'Nope' }, 'true')).toThrow(TypeError);
  });
});

describe('applyElements', () => {
  it('keeps the listed elements plus id, meta and mandatory elements', () => {
    const observation = applyElements(example('Observation-example.json'), ['subject']);
    expect(Object.keys(observation).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'subject']);
    expect(tags(observation)).toContainEqual(expect.objectContaining(SUBSETTED));
  });

  it('accepts type-qualified names and keeps the _element siblings of kept primitives', () => {
    const subset = applyElements(patient(), ['Patient.birthDate', 'gender']);
    expect(Object.keys(subset).sort()).toEqual(['_birthDate', 'birthDate', 'gender', 'id', 'meta', 'resourceType']);
  });

  it('selects a choice element by its base name or by a typed variant', () => {
    const observation = example('Observation-example.json');
    expect(applyElements(observation, ['value'])).toHaveProperty('valueQuantity');
    expect(applyElements(observation, ['valueQuantity'])).toHaveProperty('valueQuantity');
  });

  it('ignores names that are not elements of the type', () => {
    const subset = applyElements(patient(), ['nope', '', 'Observation.status']);
    expect(Object.keys(subset).sort()).toEqual(['id', 'meta', 'resourceType']);
  });

  it('does not tag a resource that had nothing else', () => {
    const bare: Resource = { resourceType: 'Patient', id: 'p1', gender: 'male' };
    expect(applyElements(bare, ['gender'])).toEqual(bare);
  });

  it('never mutates its input', () => {
    const input = patient();
    const before = structuredClone(input);
    const subset = applyElements(input, ['name']);
    (subset.meta as { tag: unknown[] }).tag.push({ code: 'x' });
    expect(input).toEqual(before);
  });
});
