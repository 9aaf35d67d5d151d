import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { CredentialContext, Identity } from '../identity/index.js';
import { PUBLIC, route } from './routes.js';

/** A login or enrollment body is a few hundred bytes; anonymous callers get no more than this. */
const AUTH_BODY_LIMIT_BYTES = 16 * 1024;

/**
 * Password login and enrollment. Both are PUBLIC (they are how a principal comes to exist); the
 * identity layer audits every outcome itself, with the source address. Answers are never cached.
 */
export function registerAuthRoutes(app: FastifyInstance, identity: Pick<Identity, 'login' | 'enrollment'>): void {
  const credentialRoute = (url: string, handler: (ctx: CredentialContext, body: unknown, reply: FastifyReply) => Promise<unknown>) =>
    route(app, {
      method: 'POST',
      url,
      action: PUBLIC,
      bodyLimit: AUTH_BODY_LIMIT_BYTES,
      handler: async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return handler(contextOf(request), request.body, reply);
      },
    });
  credentialRoute('/auth/login', async (ctx, body, reply) => {
    const result = await identity.login.login(ctx, body);
    if (result.kind === 'throttled') {
      reply.header('retry-after', String(result.retryAfterSeconds));
      throw new WardError('WARD_LOGIN_THROTTLED');
    }
    // The token response of RFC 6749 §5.1, so OAuth clients read it as they read any token response.
    return { access_token: result.accessToken, token_type: 'Bearer', expires_in: result.expiresIn, scope: result.scope };
  });
  credentialRoute('/auth/enroll', async (ctx, body) => {
    await identity.enrollment.redeem(ctx, body);
    return { enrolled: true };
  });
}

function contextOf(request: FastifyRequest): CredentialContext {
  if (!request.wardCtx) throw new WardError('WARD_INTERNAL');
  return request.wardCtx;
}
