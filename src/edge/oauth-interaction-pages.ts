import type { InteractionView, PatientChoice } from '../identity/index.js';

/** HTML-escapes text for element content and quoted attribute values. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;line-height:1.4}' +
  'label{display:block;margin:.75rem 0}input[type=text],input[type=password]{width:100%;padding:.4rem;font-size:1rem}' +
  'button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.5rem}.problem{color:#a00}li{margin:.4rem 0}' +
  'fieldset{margin:1rem 0}';

/**
 * The WebAuthn step of the second-factor page: asks the browser for an assertion with the
 * options the server put on the form, and posts it back as JSON (WebAuthn L2 §5.1.4). The one
 * script of these pages, allowed by this response's nonce and nothing else.
 */
const WEBAUTHN_SCRIPT = `(()=>{const f=document.getElementById('webauthn-form');if(!f||!window.PublicKeyCredential)return;
const b=(s)=>Uint8Array.from(atob(s.replace(/-/g,'+').replace(/_/g,'/')),(c)=>c.charCodeAt(0));
const u=(a)=>btoa(String.fromCharCode(...new Uint8Array(a))).replace(/+/g,'-').replace(///g,'_').replace(/=+$/,'');
f.addEventListener('submit',async(e)=>{if(f.elements.webauthn.value)return;e.preventDefault();
try{const o=JSON.parse(f.dataset.options);
const c=await navigator.credentials.get({publicKey:{...o,challenge:b(o.challenge),allowCredentials:(o.allowCredentials||[]).map((x)=>({...x,id:b(x.id)}))}});
const r=c.response;
f.elements.webauthn.value=JSON.stringify({id:c.id,rawId:u(c.rawId),type:c.type,clientExtensionResults:c.getClientExtensionResults(),response:{clientDataJSON:u(r.clientDataJSON),authenticatorData:u(r.authenticatorData),signature:u(r.signature),...(r.userHandle?{userHandle:u(r.userHandle)}:{})}});
f.submit();}catch{document.getElementById('webauthn-problem').hidden=false;}});})();`;

/**
 * The authorization server's pages: a login form, the second-factor form, a consent form with
 * the requested access in plain words (and the patient picker), and an "expired" page.
 * Server-rendered; the inline style, and the WebAuthn script where a security key is offered,
 * carry the response's CSP nonce. Every value shown is escaped.
 */
export function renderInteraction(view: InteractionView, nonce: string): { title: string; html: string; script: boolean } {
  const { title, body } = bodyOf(view);
  const script = view.kind === 'factor' && view.webauthn !== undefined;
  const scriptTag = script ? `<script nonce="${esc(nonce)}">${WEBAUTHN_SCRIPT}</script>` : '';
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)} – Ward</title><style nonce="${esc(nonce)}">${STYLE}</style></head><body><main>${body}</main>${scriptTag}</body></html>`;
  return { title, html, script };
}

const LOGIN_PROBLEMS = {
  throttled: 'Too many failed sign-ins. Wait a moment and try again.',
  failed: 'The username or password is not correct.',
  'enroll-first':
    "This account needs a second factor (an authenticator app or a security key) before it can sign in to apps. Sign in to Ward's web app once to set one up, then try again.",
  'start-again': 'Your sign-in has expired. Sign in again.',
} as const;

function bodyOf(view: InteractionView): { title: string; body: string } {
  if (view.kind === 'expired')
    return { title: 'Request expired', body: '<h1>This request has expired</h1><p>Go back to the app and start again.</p>' };
  const action = (step: string) => `/oauth/interaction/${encodeURIComponent(view.uid)}/${step}`;
  if (view.kind === 'login') {
    const problem = view.problem ? `<p class="problem" role="alert">${esc(LOGIN_PROBLEMS[view.problem])}</p>` : '';
    return {
      title: 'Sign in',
      body: `<h1>Sign in to Ward</h1><p><strong>${esc(view.appName)}</strong> wants to connect to your Ward account.</p>${problem}
<form method="post" action="${action('login')}">
<label>Username <input type="text" name="username" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`,
    };
  }
  if (view.kind === 'factor') return factorBody(view, action('factor'));
  const lines = view.scopes
    .map((s) =>
      s.optional
        ? `<li><label><input type="checkbox" name="scope" value="${esc(s.scope)}" checked> ${esc(s.words)}</label></li>`
        : `<li>${esc(s.words)}</li>`,
    )
    .join('');
  const whose = view.userKind === 'patient' ? 'your health record' : 'Ward on your behalf';
  const picker = view.picker ? pickerParts(view.picker, `/oauth/interaction/${encodeURIComponent(view.uid)}`) : { search: '', choices: '' };
  return {
    title: 'Allow access?',
    body: `<h1>Allow ${esc(view.appName)} to use ${whose}?</h1>${picker.search}
<form method="post" action="${action('consent')}">${picker.choices}
<p>If you allow it, <strong>${esc(view.appName)}</strong> will be able to:</p><ul>${lines}</ul>
<p>Untick anything you do not want to share. You can revoke this access at any time in Ward.</p>
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>`,
  };
}

function factorBody(view: Extract<InteractionView, { kind: 'factor' }>, action: string): { title: string; body: string } {
  const problem =
    view.problem === 'throttled'
      ? '<p class="problem" role="alert">Too many failed tries. Wait a moment and try again.</p>'
      : view.problem === 'failed'
        ? '<p class="problem" role="alert">That did not work. Try again.</p>'
        : '';
  const totp = view.totp
    ? `<form method="post" action="${action}">
<label>Code from your authenticator app <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required></label>
<button type="submit">Continue</button></form>`
    : '';
  const key =
    view.webauthn !== undefined
      ? `<form method="post" action="${action}" id="webauthn-form" data-options="${esc(JSON.stringify(view.webauthn))}">
<input type="hidden" name="webauthn" value=""><button type="submit">Use your security key or passkey</button>
<p class="problem" id="webauthn-problem" role="alert" hidden>The security key did not answer. Try again.</p></form>`
      : '';
  return {
    title: 'Second step',
    body: `<h1>Confirm it is you</h1><p>One more step to sign in to <strong>${esc(view.appName)}</strong>.</p>${problem}${totp}${key}`,
  };
}

/** The patient picker: a search form (GET, so no script is needed), and the patients offered as choices in the consent form. */
function pickerParts(picker: { query: string; choices: readonly PatientChoice[] }, self: string): { search: string; choices: string } {
  const search = `<h2>Which patient?</h2><form method="get" action="${self}">
<label>Patient name <input type="text" name="q" value="${esc(picker.query)}" maxlength="64" required></label>
<button type="submit">Search</button></form>`;
  if (picker.choices.length === 0) {
    const none = picker.query ? '<p>No patient you may see matches. Only your own patients are listed.</p>' : '';
    return { search: `${search}${none}`, choices: '' };
  }
  const items = picker.choices
    .map(
      (c) =>
        `<label><input type="radio" name="patient" value="${esc(c.id)}" required> ${esc(c.display)}${c.birthDate ? `, born ${esc(c.birthDate)}` : ''}</label>`,
    )
    .join('');
  return { search, choices: `<fieldset><legend>Patient</legend>${items}</fieldset>` };
}
