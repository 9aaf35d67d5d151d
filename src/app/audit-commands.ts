import { createPublicKey, type KeyObject } from 'node:crypto';
import { AuditProofError, type InclusionProofDocument, proveEntry, type VerifyReport, verifyAuditLog } from '../audit/index.js';
import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import { OperatorCommandError } from './operator-commands.js';
import type { Ward } from './ward.js';

export interface AuditVerifyArgs {
  /** The witness file to compare with; `null` when the operator states there is none. */
  readonly witnessFile?: string | null;
  /** A public key to check signatures with, instead of the one in the data directory. */
  readonly publicKeyPem?: string;
  /** Where the archive files are kept, to check them too (`--archives`). */
  readonly archivesDir?: string;
}

/**
 * `ward audit verify`: checks the whole log (ADR 0004) and audits that it ran and what it found
 * (counts only — the faults themselves are printed to the operator).
 */
export async function auditVerify(
  ward: Ward,
  operator: Principal,
  ctx: RequestContext,
  args: AuditVerifyArgs,
  onProgress?: (done: number, total: number) => void,
): Promise<VerifyReport> {
  const witnessPath = args.witnessFile === null ? undefined : (args.witnessFile ?? ward.config.auditWitnessFile);
  const report = await verifyAuditLog(ward.db, {
    publicKey: publicKeyFrom(ward, args.publicKeyPem),
    ...(witnessPath ? { witnessPath } : {}),
    ...(args.archivesDir !== undefined ? { archivesDir: args.archivesDir } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
  await ward.vault.recordAdministrative(operator, ctx, 'audit-verify', {
    status: 200,
    detail: {
      result: report.ok ? 'verified' : 'faults found',
      faults: String(report.faults.length),
      treeSize: String(report.treeSize),
      entries: String(report.entries),
      witness: witnessPath ? 'compared' : 'none (operator said so)',
      archives: args.archivesDir !== undefined ? 'checked' : 'not checked',
    },
  });
  return report;
}

/** `ward audit prove <seq>`: an inclusion proof of one entry against the newest signed head. */
export async function auditProve(ward: Ward, operator: Principal, ctx: RequestContext, seq: number): Promise<InclusionProofDocument> {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new OperatorCommandError('the entry number must be a positive integer');
  try {
    const proof = await proveEntry(ward.db, seq, ward.auditKey.publicKey);
    await ward.vault.recordAdministrative(operator, ctx, 'audit-prove', {
      status: 200,
      detail: { seq: String(seq), treeSize: String(proof.treeHead.treeSize) },
    });
    return proof;
  } catch (e) {
    if (!(e instanceof AuditProofError)) throw e;
    await ward.vault.recordAdministrative(operator, ctx, 'audit-prove', {
      status: 404,
      code: 'WARD_NOT_FOUND',
      detail: { seq: String(seq) },
    });
    throw new OperatorCommandError(e.message);
  }
}

function publicKeyFrom(ward: Ward, pem: string | undefined): KeyObject {
  if (pem === undefined) return ward.auditKey.publicKey;
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new OperatorCommandError('the audit public key must be an Ed25519 key');
    return key;
  } catch (e) {
    if (e instanceof OperatorCommandError) throw e;
    throw new OperatorCommandError('the audit public key file is not a PEM public key');
  }
}
