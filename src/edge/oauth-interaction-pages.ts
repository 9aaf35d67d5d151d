import type { InteractionView } from '../identity/index.js';

/** HTML-escapes text for element content and quoted attribute values. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;line-height:1.4}' +
  'label{display:block;margin:.75rem 0}input[type=text],input[type=password]{width:100%;padding:.4rem;font-size:1rem}' +
  'button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}.problem{color:#a00}li{margin:.4rem 0}';

/**
 * The authorization server's pages: a login form, a consent form with the requested access in
 * plain words, and an "expired" page. Server-rendered, no script; the only inline style carries
 * the response's CSP nonce. Every value shown is escaped.
 */
export function renderInteraction(view: InteractionView, nonce: string): { title: string; html: string } {
  const { title, body } = bodyOf(view);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)} – Ward</title><style nonce="${esc(nonce)}">${STYLE}</style></head><body><main>${body}</main></body></html>`;
  return { title, html };
}

function bodyOf(view: InteractionView): { title: string; body: string } {
  if (view.kind === 'expired')
    return { title: 'Request expired', body: '<h1>This request has expired</h1><p>Go back to the app and start again.</p>' };
  const action = (step: string) => `/oauth/interaction/${encodeURIComponent(view.uid)}/${step}`;
  if (view.kind === 'login') {
    const problem =
      view.problem === 'throttled'
        ? '<p class="problem" role="alert">Too many failed sign-ins. Wait a moment and try again.</p>'
        : view.problem === 'failed'
          ? '<p class="problem" role="alert">The username or password is not correct.</p>'
          : '';
    return {
      title: 'Sign in',
      body: `<h1>Sign in to Ward</h1><p><strong>${esc(view.appName)}</strong> wants to connect to your Ward account.</p>${problem}
<form method="post" action="${action('login')}">
<label>Username <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`,
    };
  }
  const lines = view.scopes
    .map((s) =>
      s.optional
        ? `<li><label><input type="checkbox" name="scope" value="${esc(s.scope)}" checked> ${esc(s.words)}</label></li>`
        : `<li>${esc(s.words)}</li>`,
    )
    .join('');
  const whose = view.userKind === 'patient' ? 'your health record' : 'Ward on your behalf';
  return {
    title: 'Allow access?',
    body: `<h1>Allow ${esc(view.appName)} to use ${whose}?</h1>
<p>If you allow it, <strong>${esc(view.appName)}</strong> will be able to:</p>
<form method="post" action="${action('consent')}"><ul>${lines}</ul>
<p>Untick anything you do not want to share. You can revoke this access at any time in Ward.</p>
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>`,
  };
}
