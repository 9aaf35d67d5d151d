import type { FastifyInstance } from 'fastify';
import { WardError } from '../fhir/index.js';
import { OAUTH_MOUNT, type SmartServer } from '../identity/index.js';
import { PUBLIC, route } from './routes.js';
import { rawSecurityHeaders } from './security-headers.js';

/**
 * The SMART authorization server's routes. Discovery is PUBLIC metadata; everything under
 * /oauth is PUBLIC to the bearer check because the authorization server authenticates its own
 * callers (client assertions, PKCE, the user's login) and audits every token outcome itself.
 */
export function registerOAuthRoutes(
  app: FastifyInstance,
  smart: { readonly server: SmartServer; readonly configuration: Record<string, unknown> },
  https: boolean,
): void {
  for (const url of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    route(app, { method: 'GET', url, action: PUBLIC, handler: async () => smart.configuration });
  }
  // oidc-provider reads its own bodies (form or JSON, 56 KiB at most): in this scope Fastify
  // leaves the request stream unread.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    for (const method of ['GET', 'POST'] as const) {
      for (const url of [OAUTH_MOUNT, `${OAUTH_MOUNT}/*`]) {
        route(scope, {
          method,
          url,
          action: PUBLIC,
          handler: async (request, reply) => {
            const ctx = request.wardCtx;
            if (!ctx) throw new WardError('WARD_INTERNAL');
            reply.hijack();
            rawSecurityHeaders(reply.raw, https);
            await smart.server.handle(request.raw, reply.raw, ctx);
          },
        });
      }
    }
  });
}
