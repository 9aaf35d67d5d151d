export {
  ACCESS_TOKEN_ALG,
  AccessTokens,
  type MintedToken,
  type MintRequest,
  parseTtl,
  type TokenKeys,
  TokenRequestError,
  tokenFingerprint,
} from './access-tokens.js';
