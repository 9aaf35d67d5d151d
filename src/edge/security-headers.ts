import type { FastifyReply } from 'fastify';

/**
 * Headers on every response. HSTS for a year and more (164.312(e)(1)); PHI is never cached by a
 * browser or proxy (170.315(d)(7)); the API is never framed or sniffed as another type.
 */
export function securityHeaders(reply: FastifyReply, https: boolean): void {
  if (https) reply.header('strict-transport-security', 'max-age=63072000; includeSubDomains');
  reply.header('cache-control', 'no-store');
  reply.header('pragma', 'no-cache');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cross-origin-resource-policy', 'same-origin');
}
