import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import { asOperatorError } from './operator-commands.js';
import type { Ward } from './ward.js';

/** What `ward client create` takes; the JWKS is the file's text (read by the CLI, which owns the file system). */
export interface ClientCreateArgs {
  readonly name: string;
  readonly scope: string;
  readonly jwks?: string;
  readonly jwksUri?: string;
  readonly owner?: string;
  readonly purpose?: string;
  readonly redirectUris?: readonly string[];
  /** Hold the registration for review (a third party's app): no token until `ward client approve`. */
  readonly pending?: boolean;
}

/**
 * `ward client create`: registers a client, approved at once (the operator's own registration
 * is the approval) or, with `--pending`, held until `ward client approve`; audited. Prints a
 * summary, the client id alone on the last line.
 */
export async function createClient(ward: Ward, operator: Principal, ctx: RequestContext, args: ClientCreateArgs): Promise<string> {
  const client = await asOperatorError(
    ward.smart.clients.register(operator.id, ctx, {
      name: args.name,
      owner: args.owner ?? operator.id,
      ...(args.purpose ? { purpose: args.purpose } : {}),
      scope: args.scope,
      ...(args.jwks !== undefined ? { jwks: args.jwks } : {}),
      ...(args.jwksUri !== undefined ? { jwksUri: args.jwksUri } : {}),
      ...(args.redirectUris ? { redirectUris: args.redirectUris } : {}),
      state: args.pending ? 'pending' : 'approved',
    }),
  );
  const state = args.pending ? `pending approval: ward client approve ${client.clientId}` : 'approved';
  return [
    `client registered and ${state} (${client.tokenEndpointAuthMethod}, allowed scopes: ${client.scopeCeiling})`,
    `token endpoint: ${ward.config.baseUrl}/oauth/token`,
    client.clientId,
  ].join('\n');
}

/** `ward client suspend`: the client's tokens stop working now and it can get no new ones (audited). */
export async function suspendClient(ward: Ward, operator: Principal, ctx: RequestContext, clientId: string): Promise<string> {
  const { revoked } = await asOperatorError(ward.smart.clients.suspend(operator.id, ctx, clientId));
  return `client ${clientId} suspended; ${revoked} token(s), code(s) and grant(s) revoked`;
}

/** `ward client approve`: a pending client may get tokens from now on (audited; approving twice changes nothing). */
export async function approveClient(ward: Ward, operator: Principal, ctx: RequestContext, clientId: string): Promise<string> {
  const { previousState } = await asOperatorError(ward.smart.clients.approve(operator.id, ctx, clientId));
  return previousState === 'approved' ? `client ${clientId} was already approved` : `client ${clientId} approved`;
}
