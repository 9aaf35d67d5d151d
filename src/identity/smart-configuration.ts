import { CLIENT_ASSERTION_ALGS } from './clients.js';
import { NAMED_SCOPES, OAUTH_MOUNT } from './smart-provider.js';

/**
 * The SMART App Launch 2.x discovery document (`/.well-known/smart-configuration`, SMART
 * App Launch §2.0.x "Conformance"), built from the same constants that configure the server so
 * the two cannot disagree.
 */
export function smartConfiguration(baseUrl: string): Record<string, unknown> {
  const issuer = `${baseUrl}${OAUTH_MOUNT}`;
  return {
    issuer,
    jwks_uri: `${issuer}/jwks`,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    introspection_endpoint: `${issuer}/introspect`,
    revocation_endpoint: `${issuer}/revoke`,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    scopes_supported: [
      ...NAMED_SCOPES,
      'patient/*.rs',
      'user/*.rs',
      'user/*.cruds',
      'system/*.rs',
      'patient/*.read',
      'user/*.read',
      'system/*.read',
    ],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      'launch-standalone',
      'launch-ehr',
      'context-ehr-patient',
      'context-ehr-encounter',
      'context-banner',
      'context-style',
      'client-public',
      'client-confidential-asymmetric',
      'context-standalone-patient',
      'permission-offline',
      'permission-online',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
      'sso-openid-connect',
      'authorize-post',
    ],
  };
}
