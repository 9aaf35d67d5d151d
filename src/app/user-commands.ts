import { type CreatedUser, type CreateUserRequest, parseTtl, TokenRequestError } from '../identity/index.js';
import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import { asOperatorError, OperatorCommandError } from './operator-commands.js';
import type { Ward } from './ward.js';

/** What `ward user create` takes: the account request, with the code's lifetime as the operator writes it. */
export type UserCreateArgs = Omit<CreateUserRequest, 'enrollmentTtlSeconds'> & {
  /** How long the enrollment code lasts, e.g. 72h (the default). */
  readonly expires?: string;
};

/**
 * `ward user create`: creates an account (audited) and returns what the operator hands to the
 * person: the enrollment link and code, shown once. The code alone is the last line.
 */
export async function createUser(ward: Ward, operator: Principal, ctx: RequestContext, args: UserCreateArgs): Promise<string> {
  let ttl: number | undefined;
  try {
    ttl = args.expires ? parseTtl(args.expires) : undefined;
  } catch (e) {
    if (e instanceof TokenRequestError) throw new OperatorCommandError('--expires must look like 72h, 30m or 3600s');
    throw e;
  }
  const created = await asOperatorError(
    ward.identity.accounts.create(operator.id, ctx, {
      username: args.username,
      name: args.name,
      roles: args.roles,
      ...(args.organization ? { organization: args.organization } : {}),
      ...(args.practitioner ? { practitioner: args.practitioner } : {}),
      ...(args.patient ? { patient: args.patient } : {}),
      ...(ttl !== undefined ? { enrollmentTtlSeconds: ttl } : {}),
    }),
  );
  return enrollmentText(ward.config.baseUrl, created);
}

/** `ward user unlock`: lifts a login lock or back-off of one account (audited). */
export async function unlockUser(ward: Ward, operator: Principal, ctx: RequestContext, username: string): Promise<string> {
  const { id } = await asOperatorError(ward.identity.accounts.unlock(operator.id, ctx, username));
  return `user ${id} unlocked`;
}

/** `ward user deactivate`: the account refuses logins from this moment (audited). */
export async function deactivateUser(ward: Ward, operator: Principal, ctx: RequestContext, username: string): Promise<string> {
  const { id } = await asOperatorError(ward.identity.accounts.deactivate(operator.id, ctx, username));
  return `user ${id} deactivated`;
}

/**
 * `ward user mark-compromised`: the account's password is treated as known to others (audited,
 * in the privilege ledger): its sessions and tokens end now, and its next login must change it.
 */
export async function markCompromised(ward: Ward, operator: Principal, ctx: RequestContext, username: string): Promise<string> {
  const { id } = await asOperatorError(ward.identity.accounts.markCompromised(operator.id, ctx, username));
  return `user ${id}: password marked compromised; its sessions and tokens were ended, and its next login must change the password`;
}

/** `ward user grant-role`: adds a role (audited with the roles before and after); the account's sessions end. */
export async function grantRole(ward: Ward, operator: Principal, ctx: RequestContext, username: string, role: string): Promise<string> {
  const { id } = await asOperatorError(ward.identity.accounts.grantRole(operator.id, ctx, username, role));
  return `user ${id}: role ${role} granted; the account's sessions were ended`;
}

/** `ward user revoke-role`: removes a role (audited with the roles before and after); the account's sessions end. */
export async function revokeRole(ward: Ward, operator: Principal, ctx: RequestContext, username: string, role: string): Promise<string> {
  const { id } = await asOperatorError(ward.identity.accounts.revokeRole(operator.id, ctx, username, role));
  return `user ${id}: role ${role} revoked; the account's sessions were ended`;
}

/** `ward user reactivate`: a deactivated account may log in again (audited). */
export async function reactivateUser(ward: Ward, operator: Principal, ctx: RequestContext, username: string): Promise<string> {
  const { id } = await asOperatorError(ward.identity.accounts.reactivate(operator.id, ctx, username));
  return `user ${id} reactivated`;
}

function enrollmentText(baseUrl: string, u: CreatedUser): string {
  return [
    `user ${u.id} created (${u.kind}, roles ${u.roles.join(' ')}, acting as ${u.fhirUser})`,
    `enrollment link (single use, expires ${u.enrollmentExpiresAt.toISOString()}): ${baseUrl}/enroll#code=${u.enrollmentCode}`,
    `or POST ${baseUrl}/auth/enroll with {"code": "<the code below>", "password": "..."}`,
    u.enrollmentCode,
  ].join('\n');
}
