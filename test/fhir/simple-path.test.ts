import { describe, expect, it } from 'vitest';
import { indexPlan } from '../../src/fhir/index.js';
import { compileExpression } from '../../src/fhir/search-parameters.js';
import { compileSimplePath } from '../../src/fhir/simple-path.js';
import { syntheaBundles } from '../support/synthea.js';

/**
 * The plain-path evaluator stands in for the FHIRPath engine when it indexes writes: it must give
 * the engine's answer on every parameter it accepts, for every resource of the fixtures.
 */
describe('plain FHIRPath paths (pure)', () => {
  const resources = syntheaBundles().flatMap((b) => b.entries.map((e) => e.resource as { resourceType: string }));
  const types = [...new Set(resources.map((r) => r.resourceType))];

  it('evaluates every accepted search parameter exactly as the FHIRPath engine does, on every fixture resource', () => {
    let compared = 0;
    let accepted = 0;
    let parameters = 0;
    for (const type of types) {
      const plan = indexPlan(type);
      const ofType = resources.filter((r) => r.resourceType === type);
      for (const p of plan) {
        parameters++;
        const simple = compileSimplePath(p.expression);
        if (!simple) continue;
        accepted++;
        const engine = compileExpression(p.expression);
        for (const r of ofType) {
          expect(simple(r), `${type}.${p.code}: ${p.expression}`).toEqual(engine(r));
          compared++;
        }
      }
    }
    // Most parameters are plain paths; the comparison covered them on real data.
    expect(accepted / parameters).toBeGreaterThan(0.6);
    expect(compared).toBeGreaterThan(50_000);
  });

  it.each([
    ['Observation.value.ofType(Quantity)', { resourceType: 'Observation', valueQuantity: { value: 1 } }, [{ value: 1 }]],
    ['Observation.value', { resourceType: 'Observation', valueString: 'x' }, ['x']],
    ["Encounter.subject.where(reference.startsWith('Patient/'))", { resourceType: 'Encounter', subject: { reference: 'Group/1' } }, []],
    ['Patient.name.family | Patient.name.given', { resourceType: 'Patient', name: [{ family: 'A', given: ['B', 'C'] }] }, ['A', 'B', 'C']],
    [
      'Observation.value.ofType(CodeableConcept).text',
      { resourceType: 'Observation', valueCodeableConcept: { text: 'Positive' }, valueString: 'no' },
      ['Positive'],
    ],
    ['Observation.value.ofType(Quantity).unit', { resourceType: 'Observation', valueQuantity: { value: 1, unit: 'mg' } }, ['mg']],
  ])('%s', (expression, resource, expected) => {
    expect(compileSimplePath(expression)?.(resource)).toEqual(expected);
    expect(compileExpression(expression)(resource)).toEqual(expected);
  });

  it.each([
    'Patient.extension.where(url = "x")',
    'Observation.value.ofType(Quantity).nonsense',
    'Observation.value.ofType(string).length',
    'Observation.value.text',
    'Bundle.entry[0].resource',
    'Patient.name.exists()',
    'Observation.component.value.ofType(Nonsense)',
  ])('leaves %s to the FHIRPath engine', (expression) => {
    expect(compileSimplePath(expression)).toBeUndefined();
  });
});
