/**
 * The shape of a validation finding. `expression` and `diagnostics` leave the server in an
 * OperationOutcome, so they are built only from definitions (element paths, type names,
 * cardinalities, ValueSet URLs) and array indexes — never from resource content (invariant 5,
 * HIPAA minimum necessary).
 */
export type IssueSeverity = 'fatal' | 'error' | 'warning';

export type IssueCode = 'structure' | 'required' | 'value' | 'code-invalid' | 'invalid' | 'not-supported' | 'invariant';

export interface ValidationIssue {
  severity: IssueSeverity;
  code: IssueCode;
  /** FHIRPath to the offending element, with indexes: `Patient.name[0].given[1]`. */
  expression: string;
  diagnostics: string;
}
