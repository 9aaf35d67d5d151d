import type { FastifyReply } from 'fastify';

/**
 * Headers on every response. HSTS for a year and more (164.312(e)(1)); PHI is never cached by a
 * browser or proxy (170.315(d)(7)); the API is never framed or sniffed as another type.
 */
export function securityHeaders(reply: FastifyReply, https: boolean): void {
  for (const [name, value] of headerList(https)) {
    // A route that serves HTML (the authorization server's pages) sets its own, nonce-bearing CSP.
    if (name === 'content-security-policy' && reply.hasHeader(name)) continue;
    reply.header(name, value);
  }
}

/** The same headers on a raw response that Fastify hands over (the authorization server's routes). */
export function rawSecurityHeaders(res: { setHeader(name: string, value: string): unknown }, https: boolean): void {
  for (const [name, value] of headerList(https)) res.setHeader(name, value);
}

function headerList(https: boolean): [string, string][] {
  return [
    ...(https ? ([['strict-transport-security', 'max-age=63072000; includeSubDomains']] as [string, string][]) : []),
    ['cache-control', 'no-store'],
    ['pragma', 'no-cache'],
    ['x-content-type-options', 'nosniff'],
    ['x-frame-options', 'DENY'],
    ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
    ['referrer-policy', 'no-referrer'],
    ['cross-origin-resource-policy', 'same-origin'],
  ];
}
