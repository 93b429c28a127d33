// Smoke test of the development OpenID provider: the whole code flow the way a
// cookie-keeping, non-redirect-following HTTP client does it (login form, bad
// password, auto-consent, PKCE S256 token exchange, ID token claims, userinfo,
// RP-initiated logout). Not part of scripts/test; run it by hand:
//   node scripts/oidc-provider/smoke-flow.mjs ISSUER [username] [client_id] [secret] [basic|post]
import { createHash, randomBytes } from 'node:crypto';
const [issuer, user = 'alice', clientId = 'custodian', secret = 'custodian-dev-secret', method = 'basic'] = process.argv.slice(2);
const jar = new Map(); // name -> {value, path}
function store(res) {
  for (const c of res.headers.getSetCookie()) {
    const [nv, ...attrs] = c.split(';');
    const i = nv.indexOf('=');
    const name = nv.slice(0, i).trim(), value = nv.slice(i + 1);
    const path = (attrs.find((a) => a.trim().toLowerCase().startsWith('path=')) || 'path=/').split('=')[1].trim();
    const expired = attrs.some((a) => /expires=Thu, 01 Jan 1970/i.test(a));
    const key = name + '|' + path;
    if (expired) jar.delete(key); else jar.set(key, { name, value, path });
  }
}
function cookieFor(url) {
  const p = new URL(url).pathname;
  return [...jar.values()].filter((c) => p.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
}
async function req(url, opts = {}) {
  const res = await fetch(url, { ...opts, redirect: 'manual', headers: { ...(opts.headers || {}), cookie: cookieFor(url) } });
  store(res);
  const loc = res.headers.get('location');
  console.log(`${opts.method || 'GET'} ${new URL(url).pathname} -> ${res.status}${loc ? ' ' + loc.slice(0, 120) : ''}`);
  return res;
}
const disc = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
console.log('end_session_endpoint:', disc.end_session_endpoint);
console.log('scopes_supported:', disc.scopes_supported, 'claims_supported:', disc.claims_supported);
console.log('token auth methods:', disc.token_endpoint_auth_methods_supported, 'pkce:', disc.code_challenge_methods_supported);
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
const state = randomBytes(8).toString('hex'), nonce = randomBytes(8).toString('hex');
const redirect = 'http://127.0.0.1:8080/auth/callback';
const auth = new URL(disc.authorization_endpoint);
Object.entries({ client_id: clientId, response_type: 'code', scope: 'openid email profile groups', redirect_uri: redirect, state, nonce, code_challenge: challenge, code_challenge_method: 'S256' }).forEach(([k, v]) => auth.searchParams.set(k, v));
let res = await req(auth.href);
let url = new URL(res.headers.get('location'), issuer).href;
res = await req(url);
const html = await res.text();
if (!html.includes('password for all: custodian')) throw new Error('no login form');
// bad password first
res = await req(url + '/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: user, password: 'wrong' }) });
const bad = await res.text();
if (res.status !== 200 || !bad.includes('Invalid username or password')) throw new Error('bad password not rejected properly');
res = await req(url + '/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: user, password: 'custodian' }) });
let hops = 0;
while (res.status >= 300 && res.status < 400 && !res.headers.get('location').startsWith(redirect)) {
  if (++hops > 10) throw new Error('too many redirects');
  res = await req(new URL(res.headers.get('location'), issuer).href);
}
const cb = new URL(res.headers.get('location'));
if (res.status !== 303) console.log('NOTE final status', res.status);
console.log('callback params:', Object.fromEntries(cb.searchParams));
if (cb.searchParams.get('state') !== state) throw new Error('state mismatch');
const code = cb.searchParams.get('code');
const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier });
const headers = { 'content-type': 'application/x-www-form-urlencoded' };
if (method === 'basic') headers.authorization = 'Basic ' + Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
else { body.set('client_id', clientId); body.set('client_secret', secret); }
const tr = await fetch(disc.token_endpoint, { method: 'POST', headers, body });
const tok = await tr.json();
console.log('token status', tr.status, Object.keys(tok));
if (tr.status !== 200) { console.log(tok); process.exit(1); }
const payload = JSON.parse(Buffer.from(tok.id_token.split('.')[1], 'base64url').toString());
const header = JSON.parse(Buffer.from(tok.id_token.split('.')[0], 'base64url').toString());
console.log('id_token header', header);
console.log('id_token payload', payload);
if (payload.nonce !== nonce || !payload.email || !payload.name || !Array.isArray(payload.groups)) throw new Error('id token claims missing');
const ui = await fetch(disc.userinfo_endpoint, { headers: { authorization: `Bearer ${tok.access_token}` } });
console.log('userinfo', ui.status, await ui.json());
// RP-initiated logout
const es = new URL(disc.end_session_endpoint);
es.searchParams.set('id_token_hint', tok.id_token); es.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:8080/'); es.searchParams.set('state', 'bye');
res = await req(es.href);
const lhtml = await res.text();
const xsrf = /name="xsrf" value="([^"]+)"/.exec(lhtml)?.[1];
const action = /action="([^"]+)"/.exec(lhtml)?.[1];
res = await req(new URL(action, issuer).href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ xsrf, logout: 'yes' }) });
console.log('logout final location', res.headers.get('location'));
console.log('FLOW OK');
