import r4model from 'fhirpath/fhir-context/r4/index.js';

interface FhirpathModel {
  readonly path2Type: Readonly<Record<string, string>>;
  readonly pathsDefinedElsewhere: Readonly<Record<string, string>>;
}

const model = r4model as unknown as FhirpathModel;

/** Element types that are not data types of their own: their children are looked up under the path. */
const STRUCTURAL = new Set(['BackboneElement', 'Element']);

/**
 * The FHIR types a search parameter's FHIRPath can yield, read statically from the R4 model, or
 * undefined when some part of it is not a plain path (a function, an extension, a choice without a
 * cast). Callers that protect privacy treat undefined as "could be anything".
 */
export function expressionTypes(expression: string): ReadonlySet<string> | undefined {
  const types = new Set<string>();
  for (const part of expression.split(/\s\|\s/)) {
    const type = pathType(withoutFilters(part.trim()));
    if (type === undefined) return undefined;
    types.add(type);
  }
  return types;
}

/** Drops `.where(…)` filters (they narrow, never change the type) and outer parentheses. */
function withoutFilters(part: string): string {
  let out = part;
  for (;;) {
    const start = out.indexOf('.where(');
    if (start < 0) break;
    let depth = 0;
    let end = start + '.where'.length;
    for (; end < out.length; end++) {
      if (out[end] === '(') depth++;
      else if (out[end] === ')' && --depth === 0) break;
    }
    out = out.slice(0, start) + out.slice(end + 1);
  }
  while (out.startsWith('(') && out.endsWith(')')) out = out.slice(1, -1).trim();
  return out;
}

const PLAIN_PATH = /^[A-Z]\w*(\.\w+)+$/;

function pathType(path: string): string | undefined {
  const cast = /^(.*?)(?:\.as\((\w+)\)|\s+as\s+(\w+)|\.ofType\((\w+)\))$/.exec(path);
  // A cast yields its type (or nothing), also on a choice element that has no single type.
  if (cast) return PLAIN_PATH.test(cast[1] ?? '') ? (cast[2] ?? cast[3] ?? cast[4]) : undefined;
  if (!PLAIN_PATH.test(path)) return undefined;
  const [root = '', ...segments] = path.split('.');
  let at = root;
  let type: string | undefined;
  for (const segment of segments) {
    const here = `${at}.${segment}`;
    const resolved = model.pathsDefinedElsewhere[here] ?? here;
    type = model.path2Type[resolved];
    if (type === undefined) return undefined;
    at = STRUCTURAL.has(type) ? resolved : type;
  }
  return type;
}
