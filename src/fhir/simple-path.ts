import r4model from 'fhirpath/fhir-context/r4/index.js';
import type { CompiledExpression } from './search-parameters.js';

interface FhirpathModel {
  readonly path2Type: Readonly<Record<string, string>>;
  readonly pathsDefinedElsewhere: Readonly<Record<string, string>>;
  readonly choiceTypePaths: Readonly<Record<string, readonly string[]>>;
}

const model = r4model as unknown as FhirpathModel;

/** Element types that are not data types of their own: their children are looked up under the path. */
const STRUCTURAL = new Set(['BackboneElement', 'Element']);

/** One step of a plain path: an element (a choice element fans out to its typed keys), or a filter. */
type Step = { readonly kind: 'element'; readonly keys: readonly string[] } | { readonly kind: 'reference-to'; readonly prefix: string };

const PART =
  /^\(?([A-Z]\w*)((?:\.[a-z]\w*)*)(?:\.ofType\((\w+)\)((?:\.[a-z]\w*)*))?((?:\.where\(reference\.startsWith\('[A-Z]\w*\/'\)\))?)\)?$/;

/**
 * Most search parameters' FHIRPath is a plain path — `Observation.code`, `Patient.name.family`,
 * `Observation.value.ofType(Quantity)`, `Encounter.subject.where(reference.startsWith('Patient/'))`,
 * unions of such — and evaluating it with the general FHIRPath engine was the largest cost of
 * indexing a write. This compiles that subset, with the R4 model the engine itself uses (choice
 * elements, types defined elsewhere), into a walk over the JSON that yields the same nodes in the
 * same order; anything else answers undefined, and the caller uses the engine. A test evaluates
 * both on every fixture resource and parameter and requires equal results.
 */
export function compileSimplePath(expression: string): CompiledExpression | undefined {
  const parts: { root: string; steps: Step[] }[] = [];
  for (const raw of expression.split(/\s\|\s/)) {
    const m = PART.exec(raw.trim());
    if (!m) return undefined;
    const [, root = '', path = '', ofType, rest = '', filter = ''] = m;
    const steps = stepsOf(root, path.split('.').filter(Boolean), ofType, rest.split('.').filter(Boolean));
    if (!steps) return undefined;
    const prefix = /startsWith\('([A-Z]\w*\/)'\)/.exec(filter)?.[1];
    if (prefix) steps.push({ kind: 'reference-to', prefix });
    parts.push({ root, steps });
  }
  if (parts.length === 0) return undefined;
  return (resource: object) => {
    const out: unknown[] = [];
    const type = (resource as { resourceType?: unknown }).resourceType;
    for (const { root, steps } of parts) if (root === type) walk(resource, steps, 0, out);
    return out;
  };
}

/**
 * The steps of `root.segments[.ofType(T)[.rest]]`, or undefined when the model does not know a
 * segment. `rest` goes on from a choice element narrowed to one type T, as in
 * `Observation.value.ofType(CodeableConcept).text`.
 */
function stepsOf(root: string, segments: readonly string[], ofType: string | undefined, rest: readonly string[]): Step[] | undefined {
  if (segments.length === 0) return undefined;
  const steps: Step[] = [];
  let at = root;
  for (const [i, segment] of segments.entries()) {
    const here = `${at}.${segment}`;
    const last = i === segments.length - 1;
    const choices = model.choiceTypePaths[here];
    if (choices) {
      // A choice element is only plain at the end of the path: `value` is every `value[x]` key, `value.ofType(T)` one.
      if (!last) return undefined;
      const types = ofType === undefined ? choices : choices.filter((t) => t.toLowerCase() === ofType.toLowerCase());
      if (types.length === 0) return undefined;
      steps.push({ kind: 'element', keys: types.map((t) => `${segment}${t[0]?.toUpperCase()}${t.slice(1)}`) });
      if (rest.length === 0) return steps;
      // Going on below a choice needs its one type, a complex type whose elements the model knows.
      const [only] = types;
      if (types.length !== 1 || only === undefined || !/^[A-Z]/.test(only)) return undefined;
      const below = stepsOf(only, rest, undefined, []);
      return below ? [...steps, ...below] : undefined;
    }
    const resolved = model.pathsDefinedElsewhere[here] ?? here;
    const type = model.path2Type[resolved];
    if (type === undefined) return undefined;
    steps.push({ kind: 'element', keys: [segment] });
    at = STRUCTURAL.has(type) ? resolved : type;
    // ofType on an element that is not a choice: plain only when it names the element's own type (and ends the path).
    if (last && ofType !== undefined && (ofType.toLowerCase() !== type.toLowerCase() || rest.length > 0)) return undefined;
  }
  return steps;
}

function walk(node: unknown, steps: readonly Step[], i: number, out: unknown[]): void {
  const step = steps[i];
  if (step === undefined) {
    out.push(node);
    return;
  }
  if (step.kind === 'reference-to') {
    const reference = (node as { reference?: unknown } | null)?.reference;
    if (typeof reference === 'string' && reference.startsWith(step.prefix)) walk(node, steps, i + 1, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const key of step.keys) {
    const value = (node as Record<string, unknown>)[key];
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && item !== undefined) walk(item, steps, i + 1, out);
    } else walk(value, steps, i + 1, out);
  }
}
