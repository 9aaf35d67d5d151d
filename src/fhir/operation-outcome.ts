import { ERROR_CODES, type ErrorCode, type ErrorDetail } from './errors.js';

export interface OperationOutcomeIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code: string;
  details?: { coding?: { system: string; code: string }[]; text?: string };
  diagnostics?: string;
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  id?: string;
  issue: OperationOutcomeIssue[];
}

const WARD_CODE_SYSTEM = 'https://ward.health/fhir/CodeSystem/error-code';

/** Builds the OperationOutcome for a registered error: fixed public text plus PHI-free details. */
export function outcomeForError(code: ErrorCode, details: readonly ErrorDetail[] = []): OperationOutcome {
  const entry = ERROR_CODES[code];
  const coding = [{ system: WARD_CODE_SYSTEM, code }];
  const severity = entry.status >= 500 ? 'fatal' : 'error';
  if (details.length === 0) {
    return { resourceType: 'OperationOutcome', issue: [{ severity, code: entry.issue, details: { coding, text: entry.text } }] };
  }
  return {
    resourceType: 'OperationOutcome',
    issue: details.map((d) => ({
      severity: d.severity ?? severity,
      code: d.code ?? entry.issue,
      details: { coding, text: entry.text },
      diagnostics: d.diagnostics,
      ...(d.expression ? { expression: [d.expression] } : {}),
    })),
  };
}

export function informationOutcome(text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: text }] };
}
