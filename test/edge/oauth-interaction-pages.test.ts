import { describe, expect, it } from 'vitest';
import { renderInteraction } from '../../src/edge/oauth-interaction-pages.js';

describe("the SMART login page's second-factor step", () => {
  it('170.315(d)(13): an account with only WebAuthn gets the security-key form and its script (with the nonce), and no code field', () => {
    const options = { challenge: 'abc', rpId: 'ward.test', extensions: { note: '"><script>alert(1)</script>' } };
    const { html, script } = renderInteraction({ kind: 'factor', uid: 'u1', appName: 'App', totp: false, webauthn: options }, 'n0nce');
    expect(script).toBe(true);
    expect(html).not.toContain('name="code"');
    expect(html).toContain('id="webauthn-form"');
    expect(html).toContain('<script nonce="n0nce">');
    // The options travel escaped in an attribute: they cannot close it or open a script.
    expect(html).not.toContain('<script>alert(1)');
    const attribute = /data-options="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(JSON.parse(attribute.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))))).toEqual(options);
  });

  it('170.315(d)(13): an account with only TOTP gets the code field and no script', () => {
    const { html, script } = renderInteraction({ kind: 'factor', uid: 'u1', appName: 'App', totp: true }, 'n0nce');
    expect(script).toBe(false);
    expect(html).toContain('name="code"');
    expect(html).not.toContain('<script');
  });
});
