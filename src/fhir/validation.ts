/**
 * Validates a resource body against the R4 base StructureDefinitions before it is stored
 * (create, update, transaction entries). Structure, cardinality, datatypes and required
 * bindings are checked; FHIRPath invariants are not (see validation-elements.ts).
 */
import { isResourceType } from './definitions.js';
import { Walk } from './validation-elements.js';
import type { ValidationIssue } from './validation-issue.js';

export type { IssueCode, IssueSeverity, ValidationIssue } from './validation-issue.js';

/**
 * Returns every problem found, or an empty array for a valid resource. `expectedType` is the
 * type named by the request URL; a body of another type is an `invalid` error.
 */
export function validateResource(resource: unknown, expectedType?: string): ValidationIssue[] {
  const walk = new Walk();
  const root = expectedType !== undefined && isResourceType(expectedType) ? expectedType : 'Resource';
  if (expectedType !== undefined && !isResourceType(expectedType)) {
    walk.report('fatal', 'not-supported', root, 'The expected type is not a known R4 resource type');
    return walk.issues;
  }
  const actual = walk.resource(resource, '', 0, 'fatal');
  if (actual === undefined) {
    // The walk reported against the empty path; name the root so every issue has an expression.
    for (const issue of walk.issues) if (issue.expression === '') issue.expression = root;
    return walk.issues;
  }
  if (expectedType !== undefined && actual !== expectedType) {
    walk.issues.unshift({
      severity: 'error',
      code: 'invalid',
      expression: `${expectedType}`,
      diagnostics: `resourceType does not match the expected type ${expectedType}`,
    });
  }
  return walk.issues;
}
