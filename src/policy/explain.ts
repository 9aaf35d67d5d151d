import { POLICY_VERSION } from './access-policy.js';
import { type Decision, evaluate, type PolicyAction, type PolicyTarget, type Reason } from './decide.js';
import type { PolicyFacts } from './facts.js';
import type { Principal } from './principal.js';

export interface Explanation {
  readonly policyVersion: string;
  readonly decision: Decision;
  /** The rules that produced the decision, in the order they were applied. */
  readonly reasons: readonly Reason[];
}

/** The decision and the rules behind it, without any data: what an auditor or privacy officer is shown. */
export function explain(principal: Principal, action: PolicyAction, target: PolicyTarget, facts?: PolicyFacts): Explanation {
  const { decision, reasons } = evaluate(principal, action, target, facts);
  return { policyVersion: POLICY_VERSION, decision, reasons };
}
