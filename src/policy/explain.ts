import { type Decision, evaluate, type PolicyAction, type PolicyTarget, type Reason } from './decide.js';
import { DEFAULT_POLICY } from './effective-policy.js';
import type { PolicyFacts } from './facts.js';
import type { Principal } from './principal.js';

export interface Explanation {
  /** The policy version (and the override versions) the decision was made under. */
  readonly policyVersion: string;
  readonly decision: Decision;
  /** The rules that produced the decision, in the order they were applied. */
  readonly reasons: readonly Reason[];
}

/** The decision and the rules behind it, without any data: what an auditor or privacy officer is shown. */
export function explain(principal: Principal, action: PolicyAction, target: PolicyTarget, facts?: PolicyFacts): Explanation {
  const { decision, reasons } = evaluate(principal, action, target, facts);
  const policies = facts?.policies?.length ? facts.policies : [DEFAULT_POLICY];
  return { policyVersion: policies.map((p) => p.version).join(' '), decision, reasons };
}
