import { PERSON_TYPES } from './search-extraction.js';
import {
  type CompiledExpression,
  compileExpression,
  compileRelativeExpression,
  type SearchParameterDefinition,
  searchParameter,
  searchParameterByUrl,
} from './search-parameters.js';

/** A composite parameter (R4 §3.1.1.5.9) ready to evaluate: where its elements are, and each component's parameter and path. */
export interface CompositePlan {
  readonly code: string;
  readonly person: boolean;
  /** One per `|`-separated part of the composite's expression: the elements, and the components on each. */
  readonly parts: readonly {
    readonly elements: CompiledExpression;
    readonly components: readonly {
      readonly code: string;
      readonly type: SearchParameterDefinition['type'];
      readonly evaluate: CompiledExpression;
    }[];
  }[];
}

const plans = new Map<string, CompositePlan | null>();

/** The composite parameter `code` of a type, compiled once; undefined when there is none (or it cannot be compiled). */
export function compositePlan(resourceType: string, code: string): CompositePlan | undefined {
  const key = `${resourceType}.${code}`;
  if (!plans.has(key)) plans.set(key, build(resourceType, code));
  return plans.get(key) ?? undefined;
}

function build(resourceType: string, code: string): CompositePlan | null {
  const sp = searchParameter(resourceType, code);
  if (sp?.type !== 'composite' || !sp.expression || !sp.component?.length) return null;
  const components = sp.component.map((c) => ({ c, definition: searchParameterByUrl(c.definition) }));
  if (components.some(({ definition }) => !definition || definition.type === 'composite')) return null;
  try {
    const parts = sp.expression
      .split(/\s\|\s/)
      .map((p) => p.trim())
      .filter((p) => p === resourceType || p.startsWith(`${resourceType}.`))
      .map((base) => ({
        elements: compileExpression(base),
        components: components.map(({ c, definition }) => ({
          code: (definition as SearchParameterDefinition).code,
          type: (definition as SearchParameterDefinition).type,
          evaluate: compileRelativeExpression(base, c.expression),
        })),
      }));
    return parts.length ? { code, person: PERSON_TYPES.has(resourceType), parts } : null;
  } catch {
    return null;
  }
}
