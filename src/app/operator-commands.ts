import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { isWardError } from '../fhir/index.js';
import { parseTtl, TokenRequestError, tokenFingerprint } from '../identity/index.js';
import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import type { Ward } from './ward.js';

/** The operator running a command, as a principal with no data access of its own. */
export function operatorPrincipal(name: string = userInfo().username): Principal {
  return {
    id: `operator:${name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64)}`,
    kind: 'operator',
    roles: [],
    scopes: { resourceScopes: [], other: [] },
    purposeOfUse: 'HOPERAT',
  };
}

export function operatorContext(listener: 'cli' | 'admin-socket'): RequestContext {
  return { requestId: randomUUID(), listener, audited: false };
}

export interface TokenCreateArgs {
  readonly roles: readonly string[];
  readonly sub: string;
  readonly scope: string;
  readonly patient?: string;
  readonly ttl?: string;
  /** HL7 v3 PurposeOfUse code the token acts under (TREAT when absent); every entry records it. */
  readonly purposeOfUse?: string;
  /** The organization unit (`Organization/<id>`) the subject belongs to, for unit relationships. */
  readonly organization?: string;
}

export class OperatorCommandError extends Error {
  override readonly name = 'OperatorCommandError';
}

/** Refusals with a registered code reach the operator as their public text and details (PHI-free). */
export async function asOperatorError<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isWardError(e) && e.status < 500) {
      const details = e.details.map((d) => d.diagnostics).join('; ');
      throw new OperatorCommandError(`${e.message}${details ? ` ${details}` : ''} (${e.code}, ${e.status})`);
    }
    throw e;
  }
}

/**
 * `ward token create`: mints an access token and audits the minting (who asked, for whom, which
 * roles and scopes, the token id — never the token) before the token is handed out.
 */
export async function createToken(
  ward: Ward,
  operator: Principal,
  ctx: RequestContext,
  args: TokenCreateArgs,
  operatorIdentity: 'os account' | 'claimed by socket client' = 'os account',
): Promise<string> {
  const detail: Record<string, string> = {
    operatorIdentity,
    sub: args.sub,
    roles: args.roles.join(' '),
    scope: args.scope,
    ...(args.patient ? { patient: args.patient } : {}),
    ...(args.purposeOfUse ? { purposeOfUse: args.purposeOfUse } : {}),
    ...(args.organization ? { organization: args.organization } : {}),
  };
  try {
    const minted = await ward.tokens.mint({
      sub: args.sub,
      roles: args.roles,
      scope: args.scope,
      ...(args.patient ? { patient: args.patient } : {}),
      ttlSeconds: parseTtl(args.ttl ?? '15m'),
      clientId: 'ward-cli',
      ...(args.purposeOfUse ? { purposeOfUse: args.purposeOfUse } : {}),
      ...(args.organization ? { organizations: [args.organization] } : {}),
    });
    await ward.vault.recordAdministrative(operator, ctx, 'token-create', {
      status: 201,
      detail: { ...detail, jti: minted.jti, fingerprint: tokenFingerprint(minted.token), expires: minted.expiresAt.toISOString() },
    });
    return minted.token;
  } catch (e) {
    if (e instanceof TokenRequestError) {
      await ward.vault.recordAdministrative(operator, ctx, 'token-create', { status: 400, code: 'WARD_INVALID_REQUEST', detail });
      throw new OperatorCommandError(e.message);
    }
    throw e;
  }
}
