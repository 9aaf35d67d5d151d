import type { FastifyInstance } from 'fastify';
import { WardError } from '../fhir/index.js';
import { OAUTH_MOUNT, SMART_STYLE_PATH, type SmartServer } from '../identity/index.js';
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
  // The style hint of SMART App Launch's token response: Ward's plain look, for apps that follow it.
  route(app, {
    method: 'GET',
    url: `${OAUTH_MOUNT}${SMART_STYLE_PATH}`,
    action: PUBLIC,
    handler: async () => ({
      color_background: '#ffffff',
      color_error: '#aa0000',
      color_highlight: '#1f5fa8',
      color_modal_backdrop: '',
      color_success: '#2e7d32',
      color_text: '#1a1a1a',
      dim_border_radius: '4px',
      dim_font_size: '16px',
      dim_spacing_size: '16px',
      font_family_body: 'system-ui, sans-serif',
      font_family_heading: 'system-ui, sans-serif',
    }),
  });
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
